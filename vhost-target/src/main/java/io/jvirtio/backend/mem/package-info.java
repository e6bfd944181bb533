/**
 * The front-end's memory as the target maps it: regions mapped from the fds of SET_MEM_TABLE /
 * ADD_MEM_REG, and translation of guest and user addresses into bounds-checked segments.
 */
package io.jvirtio.backend.mem;
