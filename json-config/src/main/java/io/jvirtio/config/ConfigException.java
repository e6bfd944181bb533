package io.jvirtio.config;

import io.jvirtio.spec.VirtioException;

/**
 * Bad configuration input, or a configuration operation that cannot be done: the message names the
 * source (the config file, when there is one), the JSON path of the offending value and the value,
 * e.g. {@code /etc/jvirtio.json: subsystems[0].config[2].params.vq_size: 100 is not a power of two}.
 *
 * <p>{@link #jsonPath()} and {@link #detail()} give the parts separately. An exception raised below
 * a JSON document (a controller type checking its params) carries a path relative to that document's
 * node and is re-based with {@link #at(JsonPath)} by whoever knows where the node sits.
 */
public class ConfigException extends VirtioException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final JsonPath path;
    private final String detail;

    /**
     * @param path   where the offending value is ({@link JsonPath#root()} when the whole input is meant)
     * @param detail what is wrong with it, naming the value
     */
    public ConfigException(JsonPath path, String detail) {
        this(null, path, detail, null);
    }

    /**
     * @param path   where the offending value is
     * @param detail what is wrong with it, naming the value
     * @param cause  the underlying error
     */
    public ConfigException(JsonPath path, String detail, Throwable cause) {
        this(null, path, detail, cause);
    }

    /**
     * @param source the config file (or other named input); null when there is none
     * @param path   where the offending value is
     * @param detail what is wrong with it
     * @param cause  the underlying error, or null
     */
    public ConfigException(String source, JsonPath path, String detail, Throwable cause) {
        super(format(source, path, detail), cause);
        this.source = source;
        this.path = path == null ? JsonPath.root() : path;
        this.detail = detail;
    }

    private static String format(String source, JsonPath path, String detail) {
        StringBuilder sb = new StringBuilder();
        if (source != null) {
            sb.append(source).append(": ");
        }
        if (path != null && !path.isRoot()) {
            sb.append(path).append(": ");
        }
        return sb.append(detail).toString();
    }

    /** @return the config file or input name, or null */
    public String source() {
        return source;
    }

    /** @return the JSON path of the offending value; {@link JsonPath#root()} for the whole input */
    public JsonPath jsonPath() {
        return path;
    }

    /** @return what is wrong, without source and path */
    public String detail() {
        return detail;
    }

    /**
     * @param base where the node this exception's path is relative to sits
     * @return the same error with its path re-based under {@code base} (same class, cause and stack)
     */
    public ConfigException at(JsonPath base) {
        return copy(source, base.resolve(path), detail);
    }

    /**
     * @param newSource the config file the error is in
     * @return the same error naming the file
     */
    public ConfigException in(String newSource) {
        return copy(newSource, path, detail);
    }

    /**
     * @param note more to say, appended to the detail (e.g. what was rolled back)
     * @return the same error with the note
     */
    public ConfigException withNote(String note) {
        return copy(source, path, detail + note);
    }

    /** Copies this exception with another source, path and detail; subclasses keep their class. */
    protected ConfigException copy(String newSource, JsonPath newPath, String newDetail) {
        return copyState(new ConfigException(newSource, newPath, newDetail, getCause()));
    }

    /** Gives {@code copy} this exception's stack trace and suppressed exceptions. */
    protected final <E extends ConfigException> E copyState(E copy) {
        copy.setStackTrace(getStackTrace());
        for (Throwable s : getSuppressed()) {
            copy.addSuppressed(s);
        }
        return copy;
    }
}
