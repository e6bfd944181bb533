/**
 * Kernel VFIO through FFM ioctls (Linux {@code include/uapi/linux/vfio.h}, the type1v2 container
 * and group API that SPDK, DPDK and libblkio use): a PCI function bound to vfio-pci as a
 * {@link io.jvirtio.core.pci.PciFunction}, its BARs mapped, the device's memory domain mapped for
 * DMA at IOVA = virtual address (SPDK's "va" mode). {@link io.jvirtio.core.vfio.VfioAttach} is how
 * drivers attach over it.
 */
package io.jvirtio.core.vfio;
