package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

/** {@link IostatFormatter} prints what SPDK's scripts/iostat.py prints for the same samples (resources/iostat). */
class IostatFormatterTest {
    @Test
    void printsAsIostatPyForTheSameSamples() {
        JsonNode s1 = SpdkJson.parse(text("s1.json"), "s1.json");
        JsonNode s2 = SpdkJson.parse(text("s2.json"), "s2.json");
        StringBuilder out = new StringBuilder();
        IostatFormatter kb = new IostatFormatter(IostatFormatter.Unit.KB, false);
        out.append(kb.sample(s1)).append(kb.sample(s2));
        IostatFormatter mbx = new IostatFormatter(IostatFormatter.Unit.MB, true);
        out.append(mbx.sample(s1)).append(mbx.sample(s2));
        long[] cpu1 = {100, 5, 50, 1000, 10, 3, 2, 0, 0, 0};
        long[] cpu2 = {180, 5, 90, 1100, 30, 3, 7, 5, 0, 0};
        out.append(IostatFormatter.cpuStat(null, cpu1)).append(IostatFormatter.cpuStat(cpu1, cpu2));
        assertEquals(text("iostat.py-output.txt"), out.toString());
    }

    @Test
    void aBdevNewInASampleCountsFromTheOriginAndNoBdevsPrintsNothing() {
        IostatFormatter f = new IostatFormatter(IostatFormatter.Unit.KB, false);
        assertEquals("", f.sample(SpdkJson.parse("{\"tick_rate\":1000000000,\"ticks\":1,\"bdevs\":[]}", "empty")));
        String t = f.sample(SpdkJson.parse(text("s2.json"), "s2.json"));
        assertTrue(t.startsWith("Device "), t);
        assertEquals(5, t.split("\n", -1).length, t); // header, 2 bdevs, blank line, end
    }

    private static String text(String name) {
        try (InputStream in = IostatFormatterTest.class.getResourceAsStream("/iostat/" + name)) {
            assertNotNull(in, name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
