package io.powdb.backup.format;

import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

/** A durable file found in a data directory, with the size and time seen when the directory was scanned. */
public record DataFile(String name, FileKind kind, Path path, long size, FileTime lastModified) {
}
