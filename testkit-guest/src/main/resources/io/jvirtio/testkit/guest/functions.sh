# Helpers for test scripts in the jvirtio guest (busybox sh). Sourced before the caller's script.
# Devices added by LinuxGuest.Builder with an id have their PCI address in $JVIRTIO_PCI_<id>.

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
