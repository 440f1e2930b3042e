using System.IO.Compression;
using System.Text;
using KubeletPS.Core.Runtime.Logs;

namespace KubeletPS.Core.Tests.Runtime.Logs;

/// <summary>
/// A container log directory as kubelet's log manager leaves it: the oldest rotated files gzipped,
/// the latest rotated one plain, and the current file the runtime writes.
/// </summary>
public sealed class RotatedContainerLogReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kps-rotated-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Log => Path.Combine(_dir, "0.log");

    private static string Line(int second, string message, string stream = "stdout")
        => $"2026-12-01T10:10:{second:D2}.000000001Z {stream} F {message}\n";

    private static string Lines(int from, int to) => string.Concat(Enumerable.Range(from, to - from + 1).Select(i => Line(i, $"line {i}")));

    private void WriteGzip(string name, string text)
    {
        using var file = File.Create(Path.Combine(_dir, name));
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Lines 0–9 gzipped, 10–19 in the latest rotated file, 20–29 current.</summary>
    private void WriteRotatedDirectory()
    {
        WriteGzip("0.log.20261201-101010.gz", Lines(0, 9));
        File.WriteAllText(Path.Combine(_dir, "0.log.20261201-101111"), Lines(10, 19));
        File.WriteAllText(Log, Lines(20, 29));
    }

    private static async Task<List<string>> ReadAsync(string path, ContainerLogReadOptions? options = null)
    {
        var messages = new List<string>();
        await foreach (var entry in ContainerLogReader.ReadAsync(path, options)) messages.Add(entry.Message);
        return messages;
    }

    [Fact]
    public async Task Read_AllFiles_OldestFirst_DecompressingGz()
    {
        WriteRotatedDirectory();

        var messages = await ReadAsync(Log);

        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"line {i}"), messages);
    }

    [Fact]
    public async Task Read_TailReachesBackIntoRotatedFiles()
    {
        WriteRotatedDirectory();

        Assert.Equal(Enumerable.Range(5, 25).Select(i => $"line {i}"), await ReadAsync(Log, new ContainerLogReadOptions { Tail = 25 }));
        Assert.Equal(["line 28", "line 29"], await ReadAsync(Log, new ContainerLogReadOptions { Tail = 2 }));
    }

    [Fact]
    public async Task Read_SinceStartsInsideAGzippedFile()
    {
        WriteRotatedDirectory();

        var since = new DateTimeOffset(2026, 12, 1, 10, 10, 7, TimeSpan.Zero);
        Assert.Equal(Enumerable.Range(7, 23).Select(i => $"line {i}"), await ReadAsync(Log, new ContainerLogReadOptions { Since = since }));
    }

    [Fact]
    public async Task Read_LimitBytesCutsAcrossFiles_AsTheServerWritesThem()
    {
        WriteRotatedDirectory();
        var output = new KubeletPS.Core.Server.Endpoints.ContainerLogOutput(new KubeletPS.Core.Server.Endpoints.ContainerLogRequest(false, false, false, null, 20, null));
        var written = new MemoryStream();

        await foreach (var entry in ContainerLogReader.ReadAsync(Log))
        {
            written.Write(output.Next(entry).Span);
            if (output.Done) break;
        }

        // From the oldest (gzipped) file: "line 0\nline 1\nline 2\n" cut at 20 bytes.
        Assert.Equal("line 0\nline 1\nline 2", Encoding.UTF8.GetString(written.ToArray()));
    }

    [Fact]
    public async Task Read_SkipsTemporaryFiles_AndPlainFilesWhoseGzExists()
    {
        WriteRotatedDirectory();
        // A compression kubelet did not finish: the .tmp and the plain original beside its .gz are not read twice.
        File.WriteAllText(Path.Combine(_dir, "0.log.20261201-101010.gz.tmp"), Line(1, "tmp"));
        File.WriteAllText(Path.Combine(_dir, "0.log.20261201-101010"), Lines(0, 9));

        Assert.Equal(30, (await ReadAsync(Log)).Count);
    }

    [Fact]
    public async Task Read_OtherContainersFilesInTheDirectoryAreNotRead()
    {
        WriteRotatedDirectory();
        File.WriteAllText(Path.Combine(_dir, "1.log"), Line(1, "restart one"));
        File.WriteAllText(Path.Combine(_dir, "0.logger"), Line(1, "not ours"));

        Assert.DoesNotContain("restart one", await ReadAsync(Log));
        Assert.DoesNotContain("not ours", await ReadAsync(Log));
    }

    [Fact]
    public async Task Follow_SurvivesARotation_FinishingTheRenamedFileFirst()
    {
        File.WriteAllText(Log, Line(1, "first"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = new ContainerLogReadOptions { Follow = true, PollInterval = TimeSpan.FromMilliseconds(20) };
        await using var reader = ContainerLogReader.ReadAsync(Log, options, timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("first", reader.Current.Message);

        // The log manager renames; the runtime still writes to its open file until it reopens.
        var rotated = Log + ".20261201-101010";
        File.Move(Log, rotated);
        await using (var stillOpen = new FileStream(rotated, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
        {
            await stillOpen.WriteAsync(Encoding.UTF8.GetBytes(Line(2, "late write before the reopen")));
        }
        File.WriteAllText(Log, Line(3, "after the reopen"));

        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("late write before the reopen", reader.Current.Message);
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("after the reopen", reader.Current.Message);
    }

    [Fact]
    public async Task Attack_RotatedFileSymlinkToShadow_IsNotFollowed()
    {
        WriteRotatedDirectory();
        // A secret outside the log directory, and a "rotated log" pointing at it (as /etc/shadow would be).
        var secretDir = Directory.CreateTempSubdirectory("kps-secret-").FullName;
        try
        {
            var secret = Path.Combine(secretDir, "shadow");
            File.WriteAllText(secret, Line(1, "root:$6$secret-hash:19000:0:99999:7:::"));
            File.CreateSymbolicLink(Path.Combine(_dir, "0.log.20261201-100000"), secret);
            File.CreateSymbolicLink(Path.Combine(_dir, "0.log.20261201-100001.gz"), "/etc/shadow");
            var skipped = new List<string>();

            var messages = await ReadAsync(Log, new ContainerLogReadOptions { OnUnreadableFile = (path, _) => skipped.Add(Path.GetFileName(path)) });

            Assert.DoesNotContain(messages, m => m.Contains("secret-hash", StringComparison.Ordinal));
            Assert.Equal(30, messages.Count);
            Assert.Equal(["0.log.20261201-100000", "0.log.20261201-100001.gz"], skipped.Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(secretDir, recursive: true);
        }
    }

    [Fact]
    public async Task Attack_TruncatedAndCorruptGz_ReportedAndTheRestStillRead()
    {
        // A gzip cut in half (a compression interrupted by a crash) and one that is not gzip at all.
        var whole = new MemoryStream();
        using (var gzip = new GZipStream(whole, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(Encoding.UTF8.GetBytes(Lines(0, 49)));
        File.WriteAllBytes(Path.Combine(_dir, "0.log.20261201-101010.gz"), whole.ToArray()[..(int)(whole.Length / 2)]);
        File.WriteAllText(Path.Combine(_dir, "0.log.20261201-101011.gz"), Lines(0, 1));
        // A gzip header, then a deflate block of the reserved type.
        File.WriteAllBytes(Path.Combine(_dir, "0.log.20261201-101012.gz"), [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x07, 0x00]);
        File.WriteAllText(Path.Combine(_dir, "0.log.20261201-101111"), Lines(50, 51));
        File.WriteAllText(Log, Lines(52, 53));
        var unreadable = new List<string>();

        var messages = await ReadAsync(Log, new ContainerLogReadOptions { OnUnreadableFile = (path, reason) => unreadable.Add($"{Path.GetFileName(path)}: {reason}") });

        Assert.Equal(["line 50", "line 51", "line 52", "line 53"], messages.TakeLast(4));
        Assert.Contains(unreadable, u => u.StartsWith("0.log.20261201-101011.gz: ", StringComparison.Ordinal));
        Assert.Contains(unreadable, u => u.StartsWith("0.log.20261201-101012.gz: ", StringComparison.Ordinal));
        // What the truncated file held before the cut is still shown (whole lines only).
        Assert.All(messages.SkipLast(4), m => Assert.Matches("^line [0-9]+$", m));
    }
}

/// <summary>Runs alone: it measures the bytes the process allocates while reading.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ContainerLogMemoryCollection
{
    public const string Name = "container log reader memory";
}

[Collection(ContainerLogMemoryCollection.Name)]
public sealed class ContainerLogReaderMemoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kps-hugeline-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Attack_HugeLineWithoutNewline_ReadInBoundedMemory()
    {
        // 64 MiB without a newline: a runtime that writes a line unsplit, or a file planted to exhaust the kubelet's memory.
        var log = Path.Combine(_dir, "0.log");
        await using (var file = File.Create(log))
        {
            var header = Encoding.UTF8.GetBytes("2026-12-01T10:10:10.000000001Z stdout F ");
            file.Write(header);
            var block = new byte[1 << 20];
            Array.Fill(block, (byte)'a');
            for (var i = 0; i < 64; i++) file.Write(block);
            file.Write("\n2026-12-01T10:10:11Z stdout F after\n"u8);
        }
        var cut = new List<int>();
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var lengths = new List<int>();
        await foreach (var entry in ContainerLogReader.ReadAsync(log, new ContainerLogReadOptions { OnMalformedLine = l => cut.Add(l.Length) }))
            lengths.Add(entry.Message.Length);

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.True(allocated < 32L << 20, $"reading a 64 MiB line allocated {allocated >> 20} MiB");
        Assert.Equal(2, lengths.Count);
        Assert.InRange(lengths[0], 1, ContainerLogReader.MaxLineBytes);
        Assert.Equal("after".Length, lengths[1]);
    }

    [Fact]
    public async Task Attack_EndlessPartialLines_EmittedInBoundedChunks()
    {
        // containerd splits a long line into 16 KiB P lines; 2000 of them (32 MiB) must not be joined into one string.
        var log = Path.Combine(_dir, "0.log");
        var fragment = new string('b', 16 * 1024);
        await using (var writer = new StreamWriter(log))
        {
            for (var i = 0; i < 2000; i++) await writer.WriteAsync($"2026-12-01T10:10:10Z stdout P {fragment}\n");
            await writer.WriteAsync("2026-12-01T10:10:10Z stdout F end\n");
        }

        long total = 0;
        var longest = 0;
        var output = new KubeletPS.Core.Server.Endpoints.ContainerLogOutput(new KubeletPS.Core.Server.Endpoints.ContainerLogRequest(false, false, false, null, null, null));
        long newlines = 0;
        await foreach (var entry in ContainerLogReader.ReadAsync(log))
        {
            total += entry.Message.Length;
            longest = Math.Max(longest, entry.Message.Length);
            newlines += output.Next(entry).Span.Count((byte)'\n');
        }

        Assert.Equal((2000L * fragment.Length) + 3, total);
        Assert.True(longest <= ContainerLogReader.MaxEntryChars, $"an entry of {longest} chars");
        // On the wire it is still one line, as kubelet writes P contents without a newline.
        Assert.Equal(1, newlines);
    }
}
