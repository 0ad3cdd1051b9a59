package io.spillway.core.internal;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Directories of Spillway's own files (the journal and its {@code sent/} log, a worker's state directory): they hold
 * every job's payload and headers, so one made here is readable by its owner only (0700), whatever the umask (022
 * made them world-readable). A directory that exists is left as it is: its owner chose its permissions.
 */
public final class PrivateDirectory {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private PrivateDirectory() {
    }

    /** Creates {@code dir} (and missing parents) if it is missing; the directory itself 0700 where the file system has POSIX permissions. */
    public static void ensure(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try {
            if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } else {
                Files.createDirectory(dir);
            }
        } catch (FileAlreadyExistsException raced) {
            if (!Files.isDirectory(dir)) {
                throw raced;
            }
        }
    }

    /**
     * {@link #ensure}, and for a directory in a place other users share (a default under {@code java.io.tmpdir}): one
     * that exists must be this user's and writable by no one else, or another user could have made it first and put
     * files in it (forged outcomes, or links to files of this user's to overwrite).
     *
     * @throws IllegalStateException if it belongs to another user or others may write in it
     */
    public static void ensureOwn(Path dir) throws IOException {
        ensure(dir);
        if (!dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return;
        }
        String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
        if (Files.isSymbolicLink(dir) || !owner.equals(System.getProperty("user.name"))
                || perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IllegalStateException(dir + " belongs to " + owner + " with permissions "
                    + PosixFilePermissions.toString(perms) + (Files.isSymbolicLink(dir) ? " (a symbolic link)" : "")
                    + ": refusing to keep job data in a directory another user could write in; remove it, or choose a"
                    + " directory of this user's");
        }
    }
}
