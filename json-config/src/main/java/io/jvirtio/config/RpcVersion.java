package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code spdk_get_version} answers: SPDK's shape ({@code version} and {@code fields} major,
 * minor, patch, suffix) filled with jvirtio's own version, e.g. {@code "jvirtio v0.1.0-SNAPSHOT"}
 * with suffix {@code "-SNAPSHOT"}. SPDK's {@code commit} field is left out, as SPDK leaves it out
 * when built without a git commit.
 *
 * @param version the version, {@code MAJOR.MINOR.PATCH[SUFFIX]}
 */
record RpcVersion(String version) {
    private static final Pattern SEMVER = Pattern.compile("(\\d+)\\.(\\d+)(?:\\.(\\d+))?(.*)");

    /** @return jvirtio's version, from the build (resource filtering of {@code version.properties}) */
    static RpcVersion jvirtio() {
        try (InputStream in = RpcVersion.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                throw new IllegalStateException("io/jvirtio/config/version.properties is missing from the json-config jar");
            }
            Properties p = new Properties();
            p.load(in);
            return new RpcVersion(p.getProperty("version", "0.0.0-unknown"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return {@code {"version": "jvirtio vX", "fields": {"major": .., "minor": .., "patch": .., "suffix": ..}}} */
    JsonNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("version", "jvirtio v" + version);
        ObjectNode fields = o.putObject("fields");
        Matcher m = SEMVER.matcher(version);
        if (m.matches()) {
            fields.put("major", Integer.parseInt(m.group(1)));
            fields.put("minor", Integer.parseInt(m.group(2)));
            fields.put("patch", m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
            fields.put("suffix", m.group(4));
        } else {
            fields.put("major", 0);
            fields.put("minor", 0);
            fields.put("patch", 0);
            fields.put("suffix", version);
        }
        return o;
    }
}
