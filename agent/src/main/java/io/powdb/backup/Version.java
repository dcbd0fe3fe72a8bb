package io.powdb.backup;

/** The tool's version, recorded in every manifest so a backup says what wrote it. */
public final class Version {
    private Version() {
    }

    public static String current() {
        String version = Version.class.getPackage().getImplementationVersion();
        return version != null ? version : "0.1.0-dev";
    }
}
