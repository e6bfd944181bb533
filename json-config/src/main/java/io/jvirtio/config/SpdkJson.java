package io.jvirtio.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * JSON in and out the way SPDK does it. Reading: comments allowed (SPDK's config loader parses with
 * {@code SPDK_JSON_PARSE_FLAG_ALLOW_COMMENTS}), duplicate keys and trailing content refused, errors
 * with line and column. Writing: SPDK's formatted style, two-space indent, {@code "key": value},
 * one array element per line, {@code []} for an empty array, a final newline.
 */
public final class SpdkJson {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_JAVA_COMMENTS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    private static final ObjectWriter PRETTY;
    private static final Pattern SOURCE_LOCATION = Pattern.compile("\\[Source: [^;\\]]*; line: (\\d+), column: (\\d+)\\]");

    static {
        DefaultIndenter indenter = new DefaultIndenter("  ", "\n");
        Separators separators = Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                .withObjectEmptySeparator("")
                .withArrayEmptySeparator("");
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter(separators)
                .withObjectIndenter(indenter)
                .withArrayIndenter(indenter);
        PRETTY = MAPPER.writer(pp);
    }

    private SpdkJson() {
    }

    /** @return the shared mapper (thread-safe; do not reconfigure it) */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** @return {@code node} formatted as SPDK writes JSON, with a final newline */
    public static String format(JsonNode node) {
        try {
            return PRETTY.writeValueAsString(node) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot format a JSON tree", e);
        }
    }

    /** @return {@code node} on one line, as SPDK's JSON-RPC server answers */
    public static String compact(JsonNode node) {
        try {
            return MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot format a JSON tree", e);
        }
    }

    /**
     * Writes {@code node} to {@code file} in SPDK's format.
     *
     * @throws UncheckedIOException naming the file
     */
    public static void write(JsonNode node, Path file) {
        try {
            Files.writeString(file, format(node), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * @param json   JSON text
     * @param source a name for errors (a file name), or null
     * @return the tree, objects in document order
     * @throws ConfigException for malformed JSON, naming line and column, or empty input
     */
    public static JsonNode parse(String json, String source) {
        try {
            return checkNotEmpty(MAPPER.readTree(json), source);
        } catch (JsonProcessingException e) {
            throw malformed(e, source);
        }
    }

    /**
     * Reads a JSON file.
     *
     * @param file the file
     * @return the tree
     * @throws ConfigException naming the file: not found, unreadable, a directory, empty, or malformed JSON (line, column)
     */
    public static JsonNode read(Path file) {
        String source = file.toString();
        if (Files.isDirectory(file)) {
            throw new ConfigException(source, JsonPath.root(), "is a directory, not a JSON config file", null);
        }
        try (InputStream in = Files.newInputStream(file)) {
            return checkNotEmpty(MAPPER.readTree(in), source);
        } catch (JsonProcessingException e) {
            throw malformed(e, source);
        } catch (NoSuchFileException e) {
            throw new ConfigException(source, JsonPath.root(), "config file not found (no such file)", e);
        } catch (AccessDeniedException e) {
            throw new ConfigException(source, JsonPath.root(), "cannot read the config file: permission denied", e);
        } catch (IOException e) {
            throw new ConfigException(source, JsonPath.root(), "cannot read the config file: " + e, e);
        }
    }

    private static JsonNode checkNotEmpty(JsonNode node, String source) {
        if (node == null || node.isMissingNode()) {
            throw new ConfigException(source, JsonPath.root(), "empty input, no JSON value; expected an SPDK JSON config"
                    + " ({\"subsystems\": [...]})", null);
        }
        return node;
    }

    private static ConfigException malformed(JsonProcessingException e, String source) {
        JsonLocation loc = e.getLocation();
        String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
        // Jackson names locations inside its message as "[Source: REDACTED (...); line: 2, column: 35]".
        String detail = SOURCE_LOCATION.matcher(e.getOriginalMessage()).replaceAll("line $1, column $2");
        return new ConfigException(source, JsonPath.root(), "malformed JSON" + where + ": " + detail, e);
    }
}
