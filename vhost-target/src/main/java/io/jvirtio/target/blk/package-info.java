/**
 * The virtio-blk device model of the Java target ({@link io.jvirtio.target.blk.VirtioBlkModel}) and
 * its command-line device type ({@code --blk}).
 */
package io.jvirtio.target.blk;
