package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one command on a LUN: CDB length against the negotiated cdb_size, the missing-LUN answers,
 * unit attention and NOT READY conditions, then the opcode's handler. Storage failures become
 * MEDIUM ERROR (reads, writes) or HARDWARE ERROR sense.
 */
final class ScsiCommands {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiCommands.class);

    private ScsiCommands() {
    }

    static void execute(ScsiTask t, ScsiTarget target, ScsiLun lun) {
        int op = t.opcode();
        int length = ScsiSpec.cdbLength(op);
        if (length == 0) {
            t.checkCondition(SenseCode.INVALID_OPCODE);
            return;
        }
        if (length > t.cdbSize) {
            t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
            return;
        }
        if (lun == null) {
            switch (op) {
                case ScsiSpec.INQUIRY -> InquiryCommand.execute(t, null);
                case ScsiSpec.REPORT_LUNS -> ReportLunsCommand.execute(t, target, null);
                case ScsiSpec.REQUEST_SENSE -> UnitCommands.requestSense(t, null);
                default -> t.checkCondition(SenseCode.LUN_NOT_SUPPORTED);
            }
            return;
        }
        boolean reportsConditions = op != ScsiSpec.INQUIRY && op != ScsiSpec.REPORT_LUNS
                && op != ScsiSpec.REQUEST_SENSE;
        if (reportsConditions) {
            SenseCode ua = lun.takeUnitAttention();
            if (ua != null) {
                t.checkCondition(ua);
                return;
            }
            if (lun.stopped() && op != ScsiSpec.START_STOP_UNIT) {
                t.checkCondition(SenseCode.NOT_READY_INIT_REQUIRED);
                return;
            }
        }
        try {
            dispatch(t, target, lun, op);
        } catch (RuntimeException e) {
            LOG.warn("{} on {} failed: {}", t, lun, e.toString());
            t.checkCondition(ReadWriteCommand.isRead(op) ? SenseCode.UNRECOVERED_READ_ERROR
                    : ReadWriteCommand.isWrite(op) ? SenseCode.WRITE_ERROR : SenseCode.INTERNAL_TARGET_FAILURE);
        }
    }

    private static void dispatch(ScsiTask t, ScsiTarget target, ScsiLun lun, int op) {
        switch (op) {
            case ScsiSpec.TEST_UNIT_READY -> UnitCommands.testUnitReady(t);
            case ScsiSpec.REQUEST_SENSE -> UnitCommands.requestSense(t, lun);
            case ScsiSpec.INQUIRY -> InquiryCommand.execute(t, lun);
            case ScsiSpec.REPORT_LUNS -> ReportLunsCommand.execute(t, target, lun);
            case ScsiSpec.START_STOP_UNIT -> UnitCommands.startStopUnit(t, lun);
            case ScsiSpec.READ_CAPACITY_10 -> CapacityCommands.readCapacity10(t, lun);
            case ScsiSpec.SERVICE_ACTION_IN_16 -> {
                if ((t.u8(1) & 0x1F) == ScsiSpec.SAI_READ_CAPACITY_16) {
                    CapacityCommands.readCapacity16(t, lun);
                } else {
                    t.checkCondition(SenseCode.INVALID_FIELD_IN_CDB);
                }
            }
            case ScsiSpec.READ_6, ScsiSpec.READ_10, ScsiSpec.READ_12, ScsiSpec.READ_16,
                 ScsiSpec.WRITE_6, ScsiSpec.WRITE_10, ScsiSpec.WRITE_12, ScsiSpec.WRITE_16 ->
                    ReadWriteCommand.execute(t, lun);
            case ScsiSpec.SYNCHRONIZE_CACHE_10 -> UnitCommands.synchronizeCache(t, lun, false);
            case ScsiSpec.SYNCHRONIZE_CACHE_16 -> UnitCommands.synchronizeCache(t, lun, true);
            case ScsiSpec.UNMAP -> ProvisioningCommands.unmap(t, lun);
            case ScsiSpec.WRITE_SAME_10 -> ProvisioningCommands.writeSame(t, lun, false);
            case ScsiSpec.WRITE_SAME_16 -> ProvisioningCommands.writeSame(t, lun, true);
            case ScsiSpec.MODE_SENSE_6 -> ModeSenseCommand.execute(t, lun, false);
            case ScsiSpec.MODE_SENSE_10 -> ModeSenseCommand.execute(t, lun, true);
            default -> t.checkCondition(SenseCode.INVALID_OPCODE);
        }
    }
}
