/**
 * The virtio-blk device model of the Java target ({@link io.jvirtio.backend.blk.VirtioBlkModel}) and
 * its command-line device type ({@code --blk}).
 */
package io.jvirtio.backend.blk;
