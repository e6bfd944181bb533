package io.jvirtio.config;

import java.io.Serializable;
import java.util.Objects;

/**
 * Where a value sits in a JSON document, printed the way errors name it:
 * {@code subsystems[0].config[2].params.vq_size}. The root prints as the empty string (errors about
 * the whole document carry no path). Immutable.
 */
public final class JsonPath implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final JsonPath ROOT = new JsonPath("");

    private final String text;

    private JsonPath(String text) {
        this.text = text;
    }

    /** @return the document root */
    public static JsonPath root() {
        return ROOT;
    }

    /**
     * @param text a path as {@link #toString()} prints it, e.g. {@code params}
     * @return that path
     */
    public static JsonPath of(String text) {
        return text.isEmpty() ? ROOT : new JsonPath(text);
    }

    /** @return the path of member {@code name} of the object at this path */
    public JsonPath field(String name) {
        Objects.requireNonNull(name, "name");
        return new JsonPath(text.isEmpty() ? name : text + "." + name);
    }

    /** @return the path of element {@code index} of the array at this path */
    public JsonPath index(int index) {
        return new JsonPath(text + "[" + index + "]");
    }

    /**
     * @param relative a path relative to this one (as a controller type reports it, e.g. {@code traddr})
     * @return the two joined
     */
    public JsonPath resolve(JsonPath relative) {
        if (relative.isRoot()) {
            return this;
        }
        if (text.isEmpty() || relative.text.startsWith("[")) {
            return new JsonPath(text + relative.text);
        }
        return new JsonPath(text + "." + relative.text);
    }

    /** @return whether this is the document root */
    public boolean isRoot() {
        return text.isEmpty();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JsonPath p && p.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }

    /** @return the path, e.g. {@code subsystems[0].config[2].params.vq_size}; empty for the root */
    @Override
    public String toString() {
        return text;
    }
}
