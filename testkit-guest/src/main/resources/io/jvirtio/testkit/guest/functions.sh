# Helpers for test scripts in the jvirtio guest (busybox sh). Sourced before the caller's script.
# Devices added by LinuxGuest.Builder with an id have their PCI address in $JVIRTIO_PCI_<id>.
# Variables given with LinuxGuest.Builder.env are exported before this file is sourced.

# fail MESSAGE: prints "FAIL: MESSAGE" (to stderr, so that it shows even inside $(...)) and exits 1.
# Inside a command substitution only the subshell exits: write  dev=$(blk_of blk0) || exit 1
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# skip_step REASON: records a step that was not run (GuestResult.skippedSteps() lists them).
skip_step() {
  echo "jvirtio-skip: $*"
}

# expect_eq WHAT ACTUAL EXPECTED: fails unless ACTUAL = EXPECTED (as strings); prints "ok: ..." otherwise.
expect_eq() {
  if [ "$2" != "$3" ]; then
    fail "$1: got '$2', expected '$3'"
  fi
  echo "ok: $1 = $2"
}

# wait_for PATH [SECONDS]: waits until PATH exists (default 10 s); fails after that.
wait_for() {
  _n=$(( ${2:-10} * 10 ))
  while [ ! -e "$1" ]; do
    _n=$((_n - 1))
    [ "$_n" -gt 0 ] || fail "$1 did not appear within ${2:-10} s"
    usleep 100000
  done
}

# pci_of ID: the PCI address (0000:00:05.0) of the device added with that id.
pci_of() {
  eval "_bdf=\${JVIRTIO_PCI_$1:-}"
  [ -n "$_bdf" ] || fail "no device with id '$1' (known: $(env | sed -n 's/^JVIRTIO_PCI_\([^=]*\)=.*/\1/p' | tr '\n' ' '))"
  echo "$_bdf"
}

# blk_of ID [SECONDS]: the block device name (vda, ...) of the virtio-blk device with that id;
# waits for it (default 10 s).
blk_of() {
  _bdf=$(pci_of "$1") || exit 1
  _n=$(( ${2:-10} * 10 ))
  while :; do
    for _b in /sys/bus/pci/devices/$_bdf/virtio*/block/*; do
      if [ -e "$_b" ]; then
        basename "$_b"
        return 0
      fi
    done
    _n=$((_n - 1))
    [ "$_n" -gt 0 ] || fail "no block device under PCI $_bdf (id $1) within ${2:-10} s; drivers: $(ls /sys/bus/pci/devices/$_bdf/ 2>/dev/null | tr '\n' ' ')"
    usleep 100000
  done
}

# scsi_host_of ID: the SCSI host number of the virtio-scsi controller with that id.
scsi_host_of() {
  _bdf=$(pci_of "$1") || exit 1
  for _h in /sys/bus/pci/devices/$_bdf/virtio*/host*; do
    if [ -e "$_h" ]; then
      basename "$_h" | sed 's/^host//'
      return 0
    fi
  done
  fail "no SCSI host under PCI $_bdf (id $1)"
}

# scsi_disks_of ID: one line "H:C:T:L sdX" per disk of the virtio-scsi controller with that id,
# sorted by target and LUN.
scsi_disks_of() {
  _host=$(scsi_host_of "$1") || exit 1
  for _d in /sys/class/scsi_disk/$_host:*; do
    [ -e "$_d" ] || continue
    _hctl=$(basename "$_d")
    _name=$(ls "$_d/device/block" 2>/dev/null | head -n 1)
    echo "$_hctl $_name"
  done | sort -t: -k3,3n -k4,4n
}

# hctl_disk H:C:T:L: the sdX name of that SCSI disk, empty when absent.
hctl_disk() {
  ls "/sys/class/scsi_disk/$1/device/block" 2>/dev/null | head -n 1
}

# bdf_of ID|BDF: a PCI address given as is (0000:00:05.0), or the address of the device with that id.
bdf_of() {
  case "$1" in
    *:*) echo "$1" ;;
    *) pci_of "$1" ;;
  esac
}

# driver_of ID|BDF: the name of the driver bound to that PCI function, empty when none.
driver_of() {
  _bdf=$(bdf_of "$1") || exit 1
  if [ -e "/sys/bus/pci/devices/$_bdf/driver" ]; then
    basename "$(readlink "/sys/bus/pci/devices/$_bdf/driver")"
  fi
}

# vfio_bind ID|BDF [SECONDS]: hands the PCI function to vfio-pci (unbind from its driver,
# driver_override vfio-pci, drivers_probe), waits for /dev/vfio/GROUP (default 5 s) and prints
# the IOMMU group number. Write  group=$(vfio_bind vb0) || exit 1
vfio_bind() {
  _bdf=$(bdf_of "$1") || exit 1
  _dev=/sys/bus/pci/devices/$_bdf
  [ -e "$_dev" ] || fail "vfio_bind: no PCI device $_bdf (devices: $(ls /sys/bus/pci/devices | tr '\n' ' '))"
  [ -e "$_dev/iommu_group" ] || fail "vfio_bind: $_bdf has no IOMMU group (needs LinuxGuest.Builder.intelIommu())"
  [ -e /sys/bus/pci/drivers/vfio-pci ] || fail "vfio_bind: the vfio-pci driver is not loaded (modules vfio-pci, vfio_iommu_type1)"
  _group=$(basename "$(readlink "$_dev/iommu_group")")
  _drv=$(driver_of "$_bdf")
  if [ -n "$_drv" ] && [ "$_drv" != vfio-pci ]; then
    echo "$_bdf" > "$_dev/driver/unbind" || fail "vfio_bind: cannot unbind $_bdf from $_drv"
  fi
  echo vfio-pci > "$_dev/driver_override" || fail "vfio_bind: cannot set driver_override of $_bdf"
  echo "$_bdf" > /sys/bus/pci/drivers_probe 2>/dev/null
  _drv=$(driver_of "$_bdf")
  [ "$_drv" = vfio-pci ] || fail "vfio_bind: $_bdf is bound to '${_drv:-no driver}' after drivers_probe, not vfio-pci"
  wait_for "/dev/vfio/$_group" "${2:-5}"
  echo "$_group"
}

# host_root_mounts: makes the chroot into the host's / (the read-only 9p share at $JVIRTIO_HOST_ROOT,
# see LinuxGuest.Builder.hostJava) usable: the guest's proc, sysfs and devtmpfs, and a tmpfs on /run
# (HostJava.GUEST_TMP, the guest JVM's java.io.tmpdir). The host's /tmp stays visible: a checkout
# (CI's clean clone) may live there.
# Idempotent.
host_root_mounts() {
  _root=${JVIRTIO_HOST_ROOT:-/mnt/host}
  [ -d "$_root/usr" ] || fail "host_root_mounts: the host's / is not mounted at $_root (LinuxGuest.Builder.hostJava)"
  grep -qs " $_root/proc " /proc/mounts || mount -t proc proc "$_root/proc" || fail "cannot mount proc in $_root"
  grep -qs " $_root/sys " /proc/mounts || mount -t sysfs sysfs "$_root/sys" || fail "cannot mount sysfs in $_root"
  grep -qs " $_root/dev " /proc/mounts || mount -t devtmpfs devtmpfs "$_root/dev" || fail "cannot mount devtmpfs in $_root"
  grep -qs " $_root/run " /proc/mounts || mount -t tmpfs tmpfs "$_root/run" || fail "cannot mount a tmpfs on $_root/run"
}

# host_java ARGS...: runs the host's JDK ($JVIRTIO_JAVA with $JVIRTIO_JAVA_OPTS and the class path
# $JVIRTIO_CLASSPATH, all set by LinuxGuest.Builder.hostJava) chrooted into the host's /, so every
# path is the host's; returns java's exit status. Example: host_java io.example.Main arg1 arg2
host_java() {
  [ -n "${JVIRTIO_JAVA:-}" ] || fail "host_java: \$JVIRTIO_JAVA is not set (LinuxGuest.Builder.hostJava)"
  _root=${JVIRTIO_HOST_ROOT:-/mnt/host}
  host_root_mounts || exit 1
  [ -x "$_root$JVIRTIO_JAVA" ] || fail "host_java: $JVIRTIO_JAVA is not executable under $_root"
  # shellcheck disable=SC2086  # the options are split on purpose
  chroot "$_root" "$JVIRTIO_JAVA" $JVIRTIO_JAVA_OPTS -cp "$JVIRTIO_CLASSPATH" "$@"
}
