package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/**
 * The commands in flight of one model, without an allocation per command: every reusable task is
 * listed once, when it is made (one per request object of a running queue), and a command's arrival
 * and end only flip the task's {@code registered} flag. Snapshots (task management functions, LUN
 * removal, a stopped queue) scan the list. A task that cannot be attached to its request serves one
 * command and is listed only while it is in flight.
 */
final class TaskRegistry {
    private final CopyOnWriteArrayList<ScsiTask> tasks = new CopyOnWriteArrayList<>();

    /** @return the task attached to {@code r}, made and attached (and listed) on first use */
    ScsiTask taskFor(DeviceRequest r) {
        if (r.attachment() instanceof ScsiTask t) {
            return t;
        }
        ScsiTask t = new ScsiTask(this);
        if (r.attach(t)) {
            tasks.add(t);
        } else {
            t.single = true;
        }
        return t;
    }

    void add(ScsiTask t) {
        if (t.registered.compareAndSet(false, true) && t.single) {
            tasks.add(t);
        }
    }

    void remove(ScsiTask t) {
        if (t.registered.compareAndSet(true, false) && t.single) {
            tasks.remove(t);
        }
    }

    /** @return the commands in flight (running or held) that match, each with the generation seen */
    List<ScsiTask.Snapshot> snapshot(Predicate<ScsiTask> which) {
        List<ScsiTask.Snapshot> l = new ArrayList<>();
        for (ScsiTask t : tasks) {
            long g = t.generation();
            if (t.registered.get() && which.test(t) && t.generation() == g) {
                l.add(new ScsiTask.Snapshot(t, g));
            }
        }
        return l;
    }

    /** @return how many commands are in flight */
    int count() {
        int n = 0;
        for (ScsiTask t : tasks) {
            if (t.registered.get()) {
                n++;
            }
        }
        return n;
    }

    /** Unlists the tasks of a stopped queue: its request objects are gone, a restarted queue makes new ones. */
    void forgetQueue(int queueIndex) {
        tasks.removeIf(t -> !t.single && t.queueIndex() == queueIndex);
    }

    /** Unlists every reusable task (device reset, close). */
    void forgetAll() {
        tasks.removeIf(t -> !t.single);
    }
}
