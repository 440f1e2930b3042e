using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// The static pod folder's inotify watch (kubelet's file source watches it too, and reads a file on
/// its event): every change wakes the source, and a file whose writer has closed it
/// (IN_CLOSE_WRITE) or that was moved in whole (IN_MOVED_TO, as editors and <c>mv</c> do) is
/// complete at the modification time it then has, so the source reads it at once rather than
/// waiting for its quiet period. A later write to it (IN_MODIFY) makes it incomplete again. Where
/// inotify cannot be used, a <see cref="FileSystemWatcher"/> wakes the source and nothing is ever
/// complete (every new file waits its quiet period, as before).
/// </summary>
internal sealed class ManifestFolderWatcher : IDisposable
{
    private const uint InModify = 0x2;
    private const uint InCloseWrite = 0x8;
    private const uint InMovedFrom = 0x40;
    private const uint InMovedTo = 0x80;
    private const uint InCreate = 0x100;
    private const uint InDelete = 0x200;
    private const uint InAttrib = 0x4;
    private const uint InDeleteSelf = 0x400;
    private const uint InMoveSelf = 0x800;
    private const uint InQueueOverflow = 0x4000;
    private const uint Mask = InModify | InAttrib | InCloseWrite | InMovedFrom | InMovedTo | InCreate | InDelete | InDeleteSelf | InMoveSelf;
    private const int InNonBlock = 0x800;
    private const int InCloExec = 0x80000;
    private const short PollIn = 0x1;
    private const int EventHeader = 16; // int wd; uint mask; uint cookie; uint len

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "inotify_init1")]
    private static extern int NativeInotifyInit(int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "inotify_add_watch")]
    private static extern int NativeAddWatch(int fd, string path, uint mask);

    [DllImport("libc", SetLastError = true, EntryPoint = "poll")]
    private static extern int NativePoll(ref PollFd fds, nuint count, int timeoutMs);

    [DllImport("libc", SetLastError = true, EntryPoint = "read")]
    private static extern nint NativeRead(int fd, byte[] buffer, nint count);

    [DllImport("libc", SetLastError = true, EntryPoint = "close")]
    private static extern int NativeClose(int fd);

    private readonly string _directory;
    private readonly Action _onChange;
    private readonly ConcurrentDictionary<string, DateTime> _complete = new(StringComparer.Ordinal);
    private readonly FileSystemWatcher? _fallback;
    private volatile bool _disposed;

    private ManifestFolderWatcher(string directory, Action onChange, int inotify)
    {
        _directory = directory;
        _onChange = onChange;
        if (inotify >= 0)
        {
            new Thread(() => Run(inotify)) { IsBackground = true, Name = "static pod folder watch" }.Start();
            return;
        }
        _fallback = new FileSystemWatcher(directory) { IncludeSubdirectories = false };
        _fallback.Changed += (_, _) => onChange();
        _fallback.Created += (_, _) => onChange();
        _fallback.Deleted += (_, _) => onChange();
        _fallback.Renamed += (_, _) => onChange();
        _fallback.EnableRaisingEvents = true;
    }

    /// <summary>Watches <paramref name="directory"/>; null when it does not exist (the source reads it on its period).</summary>
    public static ManifestFolderWatcher? Start(string directory, Action onChange)
    {
        if (!Directory.Exists(directory)) return null;
        var fd = -1;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                fd = NativeInotifyInit(InNonBlock | InCloExec);
                if (fd >= 0 && NativeAddWatch(fd, directory, Mask) < 0)
                {
                    NativeClose(fd);
                    fd = -1;
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                fd = -1;
            }
        }
        return new ManifestFolderWatcher(directory, onChange, fd);
    }

    /// <summary>
    /// Whether the file's writer has closed it since it was last written: the file was closed after
    /// writing (or moved in) and has not been written since (its modification time is the one it had then).
    /// </summary>
    public bool IsComplete(string file, DateTime lastWriteUtc) =>
        _complete.TryGetValue(Path.GetFileName(file), out var closedAt) && closedAt == lastWriteUtc;

    private void Run(int fd)
    {
        var buffer = new byte[64 * 1024];
        var poll = new PollFd { Fd = fd, Events = PollIn };
        try
        {
            while (!_disposed)
            {
                poll.Revents = 0;
                // A bounded wait, so that Dispose is seen within a fifth of a second.
                if (NativePoll(ref poll, 1, 200) <= 0) continue;
                var read = NativeRead(fd, buffer, buffer.Length);
                if (read <= 0) continue;
                // The whole batch is applied before the source is woken: a close followed by a new
                // write in the same batch leaves the file incomplete.
                Apply(buffer.AsSpan(0, (int)read));
                if (!_disposed) _onChange();
            }
        }
        finally
        {
            NativeClose(fd);
        }
    }

    private void Apply(ReadOnlySpan<byte> events)
    {
        while (events.Length >= EventHeader)
        {
            var mask = BitConverter.ToUInt32(events[4..8]);
            var length = (int)BitConverter.ToUInt32(events[12..16]);
            if (EventHeader + length > events.Length) break;
            var raw = events.Slice(EventHeader, length);
            var end = raw.IndexOf((byte)0);
            var name = System.Text.Encoding.UTF8.GetString(end < 0 ? raw : raw[..end]);
            events = events[(EventHeader + length)..];
            if ((mask & InQueueOverflow) != 0)
            {
                _complete.Clear();
                continue;
            }
            if (name.Length == 0) continue;
            if ((mask & (InCloseWrite | InMovedTo)) != 0)
            {
                try
                {
                    _complete[name] = File.GetLastWriteTimeUtc(Path.Combine(_directory, name));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Not readable now: not complete (the watch thread must not end on any file in the folder).
                    _complete.TryRemove(name, out _);
                }
            }
            else if ((mask & (InModify | InCreate | InMovedFrom | InDelete)) != 0)
            {
                _complete.TryRemove(name, out _);
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _fallback?.Dispose();
    }
}
