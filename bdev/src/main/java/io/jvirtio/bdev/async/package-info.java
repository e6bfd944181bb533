/**
 * An I/O API native to Java on top of the zero-allocation callback path: {@link io.jvirtio.bdev.async.AsyncBdev}
 * gives {@link java.util.concurrent.CompletableFuture}-returning calls and blocking calls meant for virtual
 * threads, from any number of threads, with one poller thread per channel doing the ring work. It costs an
 * allocation or two per I/O (the request and its future) and a hand-over between threads; engines that want
 * neither keep using {@link io.jvirtio.bdev.IoChannel} directly.
 */
package io.jvirtio.bdev.async;
