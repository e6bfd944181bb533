package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The control queue (virtio spec 5.6.6.2): task management functions and asynchronous notification
 * queries. A TMF that ends commands (abort, LUN reset, I_T nexus reset) completes the held ones first
 * (VIRTIO_SCSI_S_ABORTED / VIRTIO_SCSI_S_RESET), waits for the running ones, and only then completes
 * itself, as the spec requires.
 */
final class ControlQueueHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ControlQueueHandler.class);

    /** A TMF waiting for commands to finish; completed or dropped once. */
    private static final class PendingTmf {
        final DeviceRequest request;
        final AtomicBoolean finished = new AtomicBoolean();

        PendingTmf(DeviceRequest request) {
            this.request = request;
        }
    }

    private final VirtioScsiModel model;
    private final Set<PendingTmf> pending = ConcurrentHashMap.newKeySet();

    ControlQueueHandler(VirtioScsiModel model) {
        this.model = model;
    }

    void handle(DeviceRequest r) {
        Iov rd = Iov.of(r, true);
        Iov wr = Iov.of(r, false);
        if (rd.length() < 4) {
            LOG.warn("{}: controlq request of {} readable bytes has no type", model.name(), rd.length());
            respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE);
            return;
        }
        byte[] req = new byte[(int) Math.min(rd.length(), VirtioScsiSpec.TMF_REQ_SIZE)];
        rd.read(0, MemorySegment.ofArray(req));
        MemorySegment m = MemorySegment.ofArray(req);
        int type = m.get(VirtioScsiSpec.LE_INT, VirtioScsiSpec.TMF_TYPE);
        switch (type) {
            case VirtioScsiSpec.VIRTIO_SCSI_T_TMF -> {
                if (req.length < VirtioScsiSpec.TMF_REQ_SIZE || wr.length() < VirtioScsiSpec.TMF_RESP_SIZE) {
                    LOG.warn("{}: TMF with {} readable / {} writable bytes", model.name(), rd.length(), wr.length());
                    respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE);
                    return;
                }
                int subtype = m.get(VirtioScsiSpec.LE_INT, VirtioScsiSpec.TMF_SUBTYPE);
                LunAddress address = LunAddress.parse(m.asSlice(VirtioScsiSpec.TMF_LUN, 8).toArray(ValueLayout.JAVA_BYTE));
                long id = m.get(VirtioScsiSpec.LE_LONG, VirtioScsiSpec.TMF_ID);
                int forced = model.faults().nextTmfResponse();
                if (forced >= 0) {
                    respond(r, wr, 0, forced);
                    return;
                }
                tmf(r, wr, subtype, address, id);
            }
            case VirtioScsiSpec.VIRTIO_SCSI_T_AN_QUERY, VirtioScsiSpec.VIRTIO_SCSI_T_AN_SUBSCRIBE -> {
                if (req.length < VirtioScsiSpec.AN_REQ_SIZE || wr.length() < VirtioScsiSpec.AN_RESP_SIZE) {
                    LOG.warn("{}: AN request with {} readable / {} writable bytes", model.name(), rd.length(), wr.length());
                    if (wr.length() >= VirtioScsiSpec.AN_RESP_SIZE) {
                        respond(r, wr, VirtioScsiSpec.AN_RESPONSE, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE);
                    } else {
                        r.complete(0);
                    }
                    return;
                }
                LunAddress address = LunAddress.parse(m.asSlice(4, 8).toArray(ValueLayout.JAVA_BYTE));
                ScsiTarget target = model.target(address.target());
                // no asynchronous event is supported: event_actual 0
                respond(r, wr, VirtioScsiSpec.AN_RESPONSE, target == null || !target.exists() ? VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET : VirtioScsiSpec.VIRTIO_SCSI_S_OK);
            }
            default -> {
                LOG.warn("{}: unknown controlq request type {}", model.name(), type);
                respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE);
            }
        }
    }

    private void tmf(DeviceRequest r, Iov wr, int subtype, LunAddress address, long id) {
        ScsiTarget target = model.target(address.target());
        if (target == null || !target.exists()) {
            respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_BAD_TARGET);
            return;
        }
        if (subtype == VirtioScsiSpec.VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET) {
            endThenComplete(r, wr, model.inflight(t -> t.address.target() == target.id()), VirtioScsiSpec.VIRTIO_SCSI_S_RESET);
            return;
        }
        ScsiLun lun = target.lun(address.lun());
        if (lun == null) {
            respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_INCORRECT_LUN);
            return;
        }
        switch (subtype) {
            case VirtioScsiSpec.VIRTIO_SCSI_T_TMF_ABORT_TASK ->
                    endThenComplete(r, wr, model.inflight(t -> t.lun == lun && t.id == id), VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED);
            case VirtioScsiSpec.VIRTIO_SCSI_T_TMF_ABORT_TASK_SET, VirtioScsiSpec.VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET ->
                    endThenComplete(r, wr, model.inflight(t -> t.lun == lun), VirtioScsiSpec.VIRTIO_SCSI_S_ABORTED);
            case VirtioScsiSpec.VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET ->
                    endThenComplete(r, wr, model.inflight(t -> t.lun == lun), VirtioScsiSpec.VIRTIO_SCSI_S_RESET);
            case VirtioScsiSpec.VIRTIO_SCSI_T_TMF_QUERY_TASK -> respond(r, wr, 0, model.inflight(t -> t.lun == lun && t.id == id).isEmpty()
                    ? VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE : VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
            case VirtioScsiSpec.VIRTIO_SCSI_T_TMF_QUERY_TASK_SET -> respond(r, wr, 0, model.inflight(t -> t.lun == lun).isEmpty()
                    ? VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE : VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_SUCCEEDED);
            default -> respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_REJECTED);   // CLEAR ACA (no NACA), unknown
        }
    }

    /**
     * Completes the held commands among {@code tasks} with {@code response}, then completes the TMF
     * with FUNCTION COMPLETE once the running ones have finished.
     */
    private void endThenComplete(DeviceRequest r, Iov wr, List<ScsiTask.Snapshot> tasks, int response) {
        int cancelled = 0;
        for (ScsiTask.Snapshot t : tasks) {
            if (t.cancel(response)) {
                cancelled++;
            }
        }
        LOG.debug("{}: TMF ended {} held commands with {}, waits for {}", model.name(), cancelled,
                VirtioScsiSpec.responseName(response), tasks.size() - cancelled);
        PendingTmf p = new PendingTmf(r);
        pending.add(p);
        ScsiTask.allDone(tasks).whenComplete((v, e) -> {
            pending.remove(p);
            if (p.finished.compareAndSet(false, true)) {
                respond(r, wr, 0, VirtioScsiSpec.VIRTIO_SCSI_S_FUNCTION_COMPLETE);
            }
        });
    }

    /** Forgets the TMFs still waiting (control queue stopped, device reset): they are never completed. */
    void dropPending() {
        for (PendingTmf p : List.copyOf(pending)) {
            p.finished.set(true);
            pending.remove(p);
        }
    }

    int pendingCount() {
        return pending.size();
    }

    /** Writes {@code response} at {@code offset} of the writable part and completes with the bytes up to it. */
    private void respond(DeviceRequest r, Iov wr, int offset, int response) {
        try {
            if (wr.length() < offset + 1L) {
                r.complete(0);
                return;
            }
            byte[] resp = new byte[offset + 1];
            resp[offset] = (byte) response;
            wr.write(0, MemorySegment.ofArray(resp));
            r.complete(resp.length);
        } catch (RuntimeException e) {
            LOG.error("{}: cannot answer a controlq request: {}", model.name(), e.toString());
            r.complete(0);
        }
    }
}
