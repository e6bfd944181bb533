package io.jvirtio.tools;

/**
 * The command's log level. The library logs through SLF4J; the command binds slf4j-simple, whose
 * level is read once, when the first logger is created. So {@link Jvirtio#main} counts the
 * {@code -v} flags before anything logs: none shows warnings only, {@code -v} INFO, {@code -vv}
 * (or more) DEBUG. A level given with {@code -Dorg.slf4j.simpleLogger.defaultLogLevel} stays
 * when there is no {@code -v}.
 */
final class Logging {
    /** slf4j-simple's system property for the default level. */
    static final String LEVEL_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";

    private Logging() {
    }

    /** @return how many {@code -v} the arguments hold ({@code -vv} counts two; stops at {@code --}) */
    static int verbosity(String[] args) {
        int v = 0;
        for (String a : args) {
            if (a.equals("--")) {
                break;
            }
            if (a.equals("--verbose")) {
                v++;
            } else if (a.matches("-v+")) {
                v += a.length() - 1;
            }
        }
        return v;
    }

    /** @return the slf4j-simple level for a verbosity */
    static String level(int verbosity) {
        return switch (verbosity) {
            case 0 -> "warn";
            case 1 -> "info";
            default -> "debug";
        };
    }

    /** Sets the level; call before the first logger is created. */
    static void configure(int verbosity) {
        if (verbosity > 0 || System.getProperty(LEVEL_PROPERTY) == null) {
            System.setProperty(LEVEL_PROPERTY, level(verbosity));
        }
    }
}
