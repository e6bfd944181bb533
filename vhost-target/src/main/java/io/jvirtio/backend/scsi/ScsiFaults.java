package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * Fault injection for tests of an initiator: fail commands with a sense or a virtio response code,
 * delay them, answer task management functions with a chosen response, raise unit attentions, hold
 * a LUN NOT READY until START STOP UNIT. Rules are consumed in the order commands arrive on the
 * request queues; a command can take one failure and one delay (a delayed failure). Thread-safe.
 */
public final class ScsiFaults {
    /** A fault on one command, decided when it arrives. */
    record Decision(int response, SenseCode sense, Duration delay) {
        static final Decision NONE = new Decision(VirtioScsiSpec.VIRTIO_SCSI_S_OK, null, Duration.ZERO);

        boolean failsWithResponse() {
            return response != VirtioScsiSpec.VIRTIO_SCSI_S_OK;
        }

        boolean delayed() {
            return !delay.isZero();
        }
    }

    private enum Kind { RESPONSE, SENSE, DELAY }

    private static final class Rule {
        final CommandFilter filter;
        final Kind kind;
        final int response;
        final SenseCode sense;
        final Duration delay;
        int remaining;                  // -1: until cleared

        Rule(CommandFilter filter, Kind kind, int remaining, int response, SenseCode sense, Duration delay) {
            this.filter = Objects.requireNonNull(filter, "filter");
            this.kind = kind;
            this.remaining = remaining;
            this.response = response;
            this.sense = sense;
            this.delay = delay;
        }
    }

    private final VirtioScsiModel model;
    private final List<Rule> rules = new ArrayList<>();
    /** Whether any rule is pending: read without the lock on every command, so a model without faults takes none. */
    private volatile boolean armed;
    private final List<Integer> tmfResponses = new ArrayList<>();
    private volatile boolean unitAttentionOnLunChange;

    ScsiFaults(VirtioScsiModel model) {
        this.model = model;
    }

    /** The next {@code count} commands end with CHECK CONDITION and {@code sense}. */
    public void failNext(int count, SenseCode sense) {
        failNext(CommandFilter.any(), count, sense);
    }

    /** The next {@code count} commands matching {@code filter} end with CHECK CONDITION and {@code sense}. */
    public void failNext(CommandFilter filter, int count, SenseCode sense) {
        add(new Rule(filter, Kind.SENSE, positive(count), VirtioScsiSpec.VIRTIO_SCSI_S_OK, Objects.requireNonNull(sense), null));
    }

    /** The next {@code count} commands end with the virtio response {@code response} (BAD_TARGET, BUSY, ...). */
    public void respondNext(int count, int response) {
        respondNext(CommandFilter.any(), count, response);
    }

    /** The next {@code count} commands matching {@code filter} end with the virtio response {@code response}. */
    public void respondNext(CommandFilter filter, int count, int response) {
        if (response <= VirtioScsiSpec.VIRTIO_SCSI_S_OK || response > 0xFF) {
            throw new IllegalArgumentException("virtio response " + response + " is not a failure code");
        }
        add(new Rule(filter, Kind.RESPONSE, positive(count), response, null, null));
    }

    /** The next {@code count} commands matching {@code filter} are executed and completed {@code delay} later. */
    public void delayNext(CommandFilter filter, int count, Duration delay) {
        add(new Rule(filter, Kind.DELAY, positive(count), VirtioScsiSpec.VIRTIO_SCSI_S_OK, null, positiveDelay(delay)));
    }

    /** Every command matching {@code filter} is delayed by {@code delay}, until {@link #clear()}. */
    public void delayAll(CommandFilter filter, Duration delay) {
        add(new Rule(filter, Kind.DELAY, -1, VirtioScsiSpec.VIRTIO_SCSI_S_OK, null, positiveDelay(delay)));
    }

    /** The next {@code count} task management functions are answered with {@code response}, without effect. */
    public synchronized void respondNextTmf(int count, int response) {
        int n = positive(count);
        for (int i = 0; i < n; i++) {
            tmfResponses.add(response);
        }
    }

    /** Establishes a unit attention condition on a LUN, reported once (not by INQUIRY, REPORT LUNS). */
    public void unitAttention(int target, int lun, SenseCode sense) {
        if (!sense.isUnitAttention()) {
            throw new IllegalArgumentException(sense + " is not a UNIT ATTENTION");
        }
        model.requireLun(target, lun).raiseUnitAttention(sense);
    }

    /**
     * When on, adding or removing a LUN establishes REPORTED LUNS DATA HAS CHANGED (6/3F/0E) on every
     * other LUN of its target, reported once (what initiators without hot-plug events rely on).
     */
    public void unitAttentionOnLunChange(boolean on) {
        unitAttentionOnLunChange = on;
    }

    boolean unitAttentionOnLunChange() {
        return unitAttentionOnLunChange;
    }

    /** Makes a LUN answer NOT READY, INITIALIZING COMMAND REQUIRED (2/04/02) until a START STOP UNIT with START. */
    public void requireStartUnit(int target, int lun) {
        model.requireLun(target, lun).setStopped(true);
    }

    /** Removes every pending rule (commands already delayed stay delayed). */
    public synchronized void clear() {
        rules.clear();
        armed = false;
        tmfResponses.clear();
    }

    /** @return how many rules are still pending */
    public synchronized int pendingRules() {
        return rules.size();
    }

    Decision decide(LunAddress address, int opcode) {
        return armed ? decideArmed(address, opcode) : Decision.NONE;
    }

    private synchronized Decision decideArmed(LunAddress address, int opcode) {
        if (rules.isEmpty()) {
            return Decision.NONE;
        }
        Rule failure = null;
        Rule delay = null;
        for (Iterator<Rule> it = rules.iterator(); it.hasNext(); ) {
            Rule r = it.next();
            boolean wanted = r.kind == Kind.DELAY ? delay == null : failure == null;
            if (!wanted || !r.filter.matches(address, opcode)) {
                continue;
            }
            if (r.kind == Kind.DELAY) {
                delay = r;
            } else {
                failure = r;
            }
            if (r.remaining > 0 && --r.remaining == 0) {
                it.remove();
            }
        }
        armed = !rules.isEmpty();
        if (failure == null && delay == null) {
            return Decision.NONE;
        }
        return new Decision(failure != null && failure.kind == Kind.RESPONSE ? failure.response : VirtioScsiSpec.VIRTIO_SCSI_S_OK,
                failure != null && failure.kind == Kind.SENSE ? failure.sense : null,
                delay != null ? delay.delay : Duration.ZERO);
    }

    /** @return the forced response of the next TMF, or -1 */
    synchronized int nextTmfResponse() {
        return tmfResponses.isEmpty() ? -1 : tmfResponses.removeFirst();
    }

    private synchronized void add(Rule rule) {
        rules.add(rule);
        armed = true;
    }

    private static int positive(int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("count " + count + " must be positive");
        }
        return count;
    }

    private static Duration positiveDelay(Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("delay " + d + " must be positive");
        }
        return d;
    }
}
