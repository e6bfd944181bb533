/**
 * Kernel VFIO's uapi ({@code include/uapi/linux/vfio.h}) as constants and struct layouts: ioctl
 * numbers, extension ids, flags, vfio-pci's region and IRQ indexes, and one class per ioctl
 * struct with its {@code SIZE}, {@code *_OFFSET} constants and a record of the decoded answer.
 * Offsets and numbers were compiled against Linux 6.1's header ({@code offsetof}); every
 * capability chain is walked by {@link io.jvirtio.sys.vfio.VfioInfoCaps} with unaligned,
 * bounds-checked reads. No policy here: {@code io.jvirtio.core.vfio} decides what to do.
 */
package io.jvirtio.sys.vfio;
