using KubeletPS.Core.Pods.Volumes;
using Microsoft.Win32.SafeHandles;

namespace KubeletPS.Core;

/// <summary>
/// A file the kubelet was pointed at and refused to read: it is not a regular file, or it is larger than the
/// limit. An <see cref="IOException"/>, so that callers that report unreadable files report it; the message leaves
/// the path to the caller (<see cref="Path"/>).
/// </summary>
public sealed class FileRefusedException(string message, string path) : IOException(message)
{
    public string Path => path;
}

/// <summary>
/// Reads the files the kubelet is pointed at — static pod manifests, config.yaml, kubeconfigs and the
/// certificate, key and token files they name, node credential files — only when they are regular files and
/// within a size bound. Kubelet's file source reads only regular files (<c>os.Stat</c>, then
/// <c>Mode().IsRegular()</c>; anything else is "not a directory or file"), following symlinks. Here the file is
/// opened with O_NONBLOCK and its type checked through the descriptor: a FIFO (whose open(2) would otherwise wait
/// for a writer forever) or a device such as /dev/zero (whose read never ends) is refused at once, also when it
/// is swapped in after a check by name.
/// </summary>
public static class BoundedFile
{
    /// <summary>Opens <paramref name="path"/> for reading when it is a regular file (after symlinks); else a <see cref="FileRefusedException"/>.</summary>
    public static FileStream OpenRegular(string path) => new(OpenHandle(path), FileAccess.Read, bufferSize: 0);

    /// <summary>
    /// The whole content of the regular file <paramref name="path"/>, refused before it is read when it says it is
    /// larger than <paramref name="maxBytes"/>; a file that grows while it is read (or a /proc file, which says 0)
    /// is read at most one byte past the limit.
    /// </summary>
    public static byte[] ReadAllBytes(string path, long maxBytes)
    {
        using var handle = OpenHandle(path);
        var length = RandomAccess.GetLength(handle);
        if (length > maxBytes) throw TooLarge(path, length, maxBytes);
        var buffer = new byte[(int)Math.Min(maxBytes + 1, Math.Max(length, 4096) + 1)];
        var read = 0;
        while (true)
        {
            if (read == buffer.Length)
            {
                if (read > maxBytes) throw TooLarge(path, null, maxBytes);
                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1, 2L * buffer.Length));
            }
            var n = RandomAccess.Read(handle, buffer.AsSpan(read), read);
            if (n == 0) break;
            read += n;
        }
        return read == buffer.Length ? buffer : buffer[..read];
    }

    /// <summary>
    /// The most a certificate, key, CA bundle or token file named by a kubeconfig may hold: a CA bundle of a
    /// few hundred certificates is well under it. (client-go reads them unbounded: a link to /dev/zero never ends.)
    /// </summary>
    public const long CredentialFileLimit = 1L * 1024 * 1024;

    /// <summary>The text (UTF-8) of a certificate, key or token file, within <see cref="CredentialFileLimit"/>.</summary>
    public static string ReadCredentialText(string path) => System.Text.Encoding.UTF8.GetString(ReadAllBytes(path, CredentialFileLimit));

    /// <summary>"1 MiB" for a whole number of MiB, else the bytes.</summary>
    public static string DescribeSize(long bytes) => bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes} bytes";

    private static FileRefusedException TooLarge(string path, long? length, long maxBytes) =>
        new($"the file{(length is { } l ? $" ({l} bytes)" : "")} is larger than the limit of {DescribeSize(maxBytes)}; it is not read.", path);

    private static FileRefusedException NotRegular(string path, string what) =>
        new($"the file is not a regular file but {what}; only regular files are read.", path);

    private static SafeFileHandle OpenHandle(string path)
    {
        var fd = VolumeNative.OpenAt(VolumeNative.AtFdCwd, path, VolumeNative.ORdOnly | VolumeNative.ONonBlock, out var errno);
        if (fd < 0) throw OpenError(path, errno);
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (!VolumeNative.TryStat(fd, out var identity))
        {
            handle.Dispose();
            throw new IOException($"cannot read '{path}': fstat failed.");
        }
        if (!identity.IsRegularFile)
        {
            handle.Dispose();
            throw NotRegular(path, Describe(identity.Mode));
        }
        return handle;
    }

    private static Exception OpenError(string path, int errno) => errno switch
    {
        VolumeNative.ENoEnt => new FileNotFoundException($"Could not find file '{path}'.", path),
        20 => new DirectoryNotFoundException($"Could not find a part of the path '{path}'."), // ENOTDIR
        1 or 13 => new UnauthorizedAccessException($"Access to the path '{path}' is denied."), // EPERM, EACCES
        21 => NotRegular(path, "a directory"), // EISDIR
        _ => VolumeNative.Error($"open {path}", errno),
    };

    private static string Describe(int mode) => (mode & VolumeNative.SIfMt) switch
    {
        0x1000 => "a FIFO (named pipe)",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        VolumeNative.SIfDir => "a directory",
        _ => $"of type {mode & VolumeNative.SIfMt:x}",
    };
}
