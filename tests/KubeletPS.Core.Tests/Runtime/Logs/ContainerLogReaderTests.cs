
using KubeletPS.Core.Runtime.Logs;

namespace KubeletPS.Core.Tests.Runtime.Logs;

public sealed class ContainerLogReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kps-logs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Parse_FullLine_KeepsNanosecondTimestampStreamAndMessage()
    {
        var line = CriLogParser.Parse("2016-10-06T00:17:09.669794202Z stdout F hello world ");

        Assert.Equal(new DateTimeOffset(2016, 10, 6, 0, 17, 9, TimeSpan.Zero).AddTicks(6697942), line.Timestamp);
        Assert.Equal(ContainerLogStream.Stdout, line.Stream);
        Assert.False(line.Partial);
        Assert.Equal("hello world ", line.Content);
    }

    [Theory]
    [InlineData("2016-10-06T00:17:09Z stderr F x", 0)]
    [InlineData("2016-10-06T00:17:09.5+02:00 stderr F x", 5_000_000)]
    [InlineData("2016-10-06T00:17:09.123-01:30 stderr F x", 1_230_000)]
    public void Parse_AcceptsRfc3339Variants(string text, long fractionTicks)
    {
        var line = CriLogParser.Parse(text);

        Assert.Equal(ContainerLogStream.Stderr, line.Stream);
        Assert.Equal(fractionTicks, line.Timestamp.Ticks % TimeSpan.TicksPerSecond);
        Assert.Equal("x", line.Content);
    }

    [Fact]
    public void Parse_EmptyMessageAndExtraTags()
    {
        Assert.Equal(string.Empty, CriLogParser.Parse("2016-10-06T00:17:09Z stdout F ").Content);
        Assert.Equal(string.Empty, CriLogParser.Parse("2016-10-06T00:17:09Z stdout F").Content);
        Assert.True(CriLogParser.Parse("2016-10-06T00:17:09Z stdout P:x a").Partial);
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain text from a json-file logger")]
    [InlineData("2016-10-06 00:17:09Z stdout F x")]
    [InlineData("2016-10-06T00:17:09Z stdin F x")]
    [InlineData("2016-10-06T00:17:09Z stdout X x")]
    [InlineData("2016-10-06T00:17:09.Z stdout F x")]
    public void Parse_RejectsMalformedLines(string text)
    {
        Assert.False(CriLogParser.TryParse(text, out _));
        Assert.Throws<FormatException>(() => CriLogParser.Parse(text));
    }

    [Fact]
    public void Parse_JoinsPartialLinesPerStream_AndSkipsMalformed()
    {
        var malformed = new List<string>();
        var entries = ContainerLogReader.Parse(
            """
            2024-01-01T00:00:01.000000001Z stdout P first 
            2024-01-01T00:00:01.500000000Z stderr F error line
            not a cri line
            2024-01-01T00:00:02Z stdout P second 
            2024-01-01T00:00:03Z stdout F third
            2024-01-01T00:00:04Z stdout F
            2024-01-01T00:00:05Z stderr P dangling
            """.Replace("\r\n", "\n"),
            malformed.Add);

        Assert.Equal(["not a cri line"], malformed);
        Assert.Equal(4, entries.Count);
        Assert.Equal(new ContainerLogEntry(new DateTimeOffset(2024, 1, 1, 0, 0, 1, 500, TimeSpan.Zero), ContainerLogStream.Stderr, "error line"), entries[0]);
        Assert.Equal((ContainerLogStream.Stdout, "first second third"), (entries[1].Stream, entries[1].Message));
        Assert.Equal(new DateTimeOffset(2024, 1, 1, 0, 0, 1, TimeSpan.Zero), entries[1].Timestamp);
        Assert.Equal(string.Empty, entries[2].Message);
        Assert.Equal((ContainerLogStream.Stderr, "dangling"), (entries[3].Stream, entries[3].Message));
    }

    [Fact]
    public async Task Read_TailStreamAndSince()
    {
        var path = Path.Combine(_dir, "0.log");
        await File.WriteAllLinesAsync(path, Enumerable.Range(1, 10).Select(i => $"2024-01-01T00:00:{i:00}Z {(i % 2 == 0 ? "stderr" : "stdout")} F line{i}"));

        Assert.Equal(["line9", "line10"], (await ContainerLogReader.ReadAllAsync(path, tail: 2)).Select(e => e.Message));
        Assert.Empty(await ContainerLogReader.ReadAllAsync(path, tail: 0));
        Assert.Equal(10, (await ContainerLogReader.ReadAllAsync(path)).Count);

        var options = new ContainerLogReadOptions { Stream = ContainerLogStream.Stderr, Since = new DateTimeOffset(2024, 1, 1, 0, 0, 7, TimeSpan.Zero) };
        var filtered = new List<string>();
        await foreach (var entry in ContainerLogReader.ReadAsync(path, options))
        {
            filtered.Add(entry.Message);
        }

        Assert.Equal(["line8", "line10"], filtered);
    }

    [Fact]
    public async Task Read_MissingFile_ThrowsFileNotFound()
    {
        await Assert.ThrowsAsync<FileNotFoundException>(() => ContainerLogReader.ReadAllAsync(Path.Combine(_dir, "absent.log")));
    }

    [Fact]
    public async Task Follow_SeesAppendedLines_HalfWrittenLines_AndTruncation()
    {
        var path = Path.Combine(_dir, "follow.log");
        await File.WriteAllTextAsync(path, "2024-01-01T00:00:01Z stdout F old1\n2024-01-01T00:00:02Z stdout F old2\n");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = new ContainerLogReadOptions { Follow = true, Tail = 1, PollInterval = TimeSpan.FromMilliseconds(20) };
        await using var reader = ContainerLogReader.ReadAsync(path, options, timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("old2", reader.Current.Message);

        // A line arriving in two writes is delivered once it is complete.
        await AppendAsync(path, "2024-01-01T00:00:03Z stdout P new ");
        var next = reader.MoveNextAsync().AsTask();
        await AppendAsync(path, "part\n2024-01-01T00:00:03Z stdout F 1\n");
        Assert.True(await next);
        Assert.Equal("new part1", reader.Current.Message);

        // Rotation: the file is replaced by a shorter one and reading starts over on it.
        await File.WriteAllTextAsync(path, "2024-01-01T00:00:04Z stdout F after\n");
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("after", reader.Current.Message);
    }

    [Fact]
    public async Task Follow_EndsWithCancellation()
    {
        var path = Path.Combine(_dir, "cancel.log");
        await File.WriteAllTextAsync(path, string.Empty);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in ContainerLogReader.ReadAsync(path, new ContainerLogReadOptions { Follow = true }, cancel.Token))
            {
            }
        });
    }

    [Fact]
    public async Task Read_LastLineWithoutNewline_IsKeptAndWrittenWithoutNewline()
    {
        // containerd's CRI log writer: output ending without a newline is written as a P entry when the stream closes.
        var path = Path.Combine(_dir, "noeol.log");
        await File.WriteAllTextAsync(path, "2024-01-01T00:00:01Z stdout F a\n2024-01-01T00:00:01Z stdout P b-without-newline\n");

        var entries = await ContainerLogReader.ReadAllAsync(path);

        Assert.Equal(["a", "b-without-newline"], entries.Select(e => e.Message));
        // As kubelet's ReadLogs: a P line's content goes out as it is, no newline added.
        var output = new KubeletPS.Core.Server.Endpoints.ContainerLogOutput(new KubeletPS.Core.Server.Endpoints.ContainerLogRequest(false, false, false, null, null, null));
        Assert.Equal("a\nb-without-newline", string.Concat(entries.Select(e => System.Text.Encoding.UTF8.GetString(output.Next(e).Span))));
    }

    [Fact]
    public async Task Follow_PassesOnALastLineWithoutNewline_BeforeItsContainerEnds()
    {
        var path = Path.Combine(_dir, "follow-noeol.log");
        await File.WriteAllTextAsync(path, "2024-01-01T00:00:01Z stdout F a\n2024-01-01T00:00:01Z stdout P b-without-newline\n");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = new ContainerLogReadOptions { Follow = true, PollInterval = TimeSpan.FromMilliseconds(20) };
        await using var reader = ContainerLogReader.ReadAsync(path, options, timeout.Token).GetAsyncEnumerator(timeout.Token);

        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("a", reader.Current.Message);
        // kubelet's ReadLogs prints a P line as it comes: no F line has to follow (the container may be ending).
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal(("b-without-newline", true), (reader.Current.Message, reader.Current.Partial));
    }

    private static async Task AppendAsync(string path, string text)
    {
        await using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text));
    }
}
