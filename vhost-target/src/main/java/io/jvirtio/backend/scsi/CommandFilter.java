package io.jvirtio.backend.scsi;

/**
 * Which commands a fault applies to: a target, a LUN and an opcode, each {@link #ANY} for all.
 *
 * @param target target number or {@link #ANY}
 * @param lun    LUN or {@link #ANY}
 * @param opcode SCSI operation code or {@link #ANY}
 */
public record CommandFilter(int target, int lun, int opcode) {
    public static final int ANY = -1;

    /** @return a filter matching every command */
    public static CommandFilter any() {
        return new CommandFilter(ANY, ANY, ANY);
    }

    /** @return a filter matching every command to one LUN */
    public static CommandFilter lun(int target, int lun) {
        return new CommandFilter(target, lun, ANY);
    }

    /** @return a filter matching every command to one target */
    public static CommandFilter target(int target) {
        return new CommandFilter(target, ANY, ANY);
    }

    /** @return a filter matching one operation code on any LUN */
    public static CommandFilter opcode(int opcode) {
        return new CommandFilter(ANY, ANY, opcode);
    }

    /** @return this filter narrowed to one operation code */
    public CommandFilter withOpcode(int opcode) {
        return new CommandFilter(target, lun, opcode);
    }

    boolean matches(LunAddress address, int op) {
        return (target == ANY || target == address.target())
                && (lun == ANY || lun == address.lun())
                && (opcode == ANY || opcode == op);
    }
}
