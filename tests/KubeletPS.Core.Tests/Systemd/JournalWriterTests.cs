using System.Buffers.Binary;
using System.Text;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Systemd;
using KubeletPS.TestCluster.Runtime;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Systemd;

public sealed class JournalWriterTests(ITestOutputHelper output)
{
    private sealed class RecordingLog : IKubeletLog
    {
        public List<KubeletLogRecord> Records { get; } = [];
        public void Write(KubeletLogLevel level, string message) => Records.Add(new KubeletLogRecord(level, message));
        public void Write(KubeletLogRecord record) => Records.Add(record);
    }

    [Fact]
    public void A_single_line_value_is_KEY_equals_value_a_multi_line_one_is_the_binary_length_form()
    {
        var bytes = JournalWriter.Serialize([new("MESSAGE", "two\nlines"), new("POD", "web")]);
        var expected = new List<byte>();
        expected.AddRange("MESSAGE\n"u8.ToArray());
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, 9);
        expected.AddRange(length);
        expected.AddRange("two\nlines\nPOD=web\n"u8.ToArray());
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void A_pod_name_with_a_line_break_cannot_forge_another_field()
    {
        // The attack: a value "web\nREASON=Forged" written as KEY=value would be read by journald as two fields.
        var bytes = JournalWriter.Serialize([new("POD", "web\nREASON=Forged")]);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.StartsWith("POD\n", text, StringComparison.Ordinal);
        Assert.Equal((ulong)"web\nREASON=Forged".Length, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(4, 8)));
    }

    [Theory]
    [InlineData("_PID")]
    [InlineData("pod")]
    [InlineData("9LIVES")]
    [InlineData("POD=X")]
    [InlineData("")]
    public void A_field_name_journald_would_refuse_or_that_is_journalds_own_is_rejected(string name)
    {
        var e = Assert.Throws<KubeletException>(() => JournalWriter.Serialize([new(name, "x")]));
        Assert.Equal(KubeletErrorKind.InvalidArgument, e.Category);
    }

    [Fact]
    public void The_journal_log_keeps_the_records_up_to_logging_verbosity_and_writes_kubelets_json_line()
    {
        using var writer = new JournalWriter(Path.Combine(Path.GetTempPath(), "no-journal-" + Guid.NewGuid().ToString("N")));
        var fallback = new RecordingLog();
        var log = new JournalKubeletLog(writer, "json", 2, "kubeletps", fallback);
        var record = new KubeletLogRecord(KubeletLogLevel.Info, "Event occurred") { Pod = "web", Namespace = "default", Reason = "Started", Verbosity = 3 };
        log.Write(record);
        Assert.Empty(fallback.Records); // V(3) above verbosity 2: dropped, not sent, not fallen back
        log.Write(record with { Verbosity = 2 });
        Assert.Single(fallback.Records); // no journald at that socket: the record goes to the foreground log

        var fields = log.Fields(record).ToDictionary(f => f.Key, f => f.Value);
        Assert.Equal("6", fields["PRIORITY"]);
        Assert.Equal("3", fields["VERBOSITY"]);
        Assert.Equal(("web", "default", "Started"), (fields["POD"], fields["NAMESPACE"], fields["REASON"]));
        Assert.Matches("""^\{"ts":\d+(\.\d+)?,"msg":"Event occurred","v":3,"pod":\{"name":"web","namespace":"default"\},"reason":"Started"\}$""", fields["MESSAGE"]);
        Assert.Equal("Event occurred pod=\"default/web\" reason=\"Started\"", JournalKubeletLog.TextLine(record));
        Assert.Throws<KubeletException>(() => new JournalKubeletLog(writer, "klog", 0, "kubeletps", fallback));
    }

    [Fact]
    public void The_agent_logs_to_the_journal_only_when_systemd_connected_it_to_journald()
    {
        var socket = Path.Combine(Path.GetTempPath(), "kps-socket-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(socket, "");
        try
        {
            Assert.Null(ServiceJournalLog.ForService(new RecordingLog(), _ => null, socket));
            Assert.Null(ServiceJournalLog.ForService(new RecordingLog(), n => n == "JOURNAL_STREAM" ? "8:1234" : null, socket + ".missing"));
            using var journal = ServiceJournalLog.ForService(new RecordingLog(), n => n == "JOURNAL_STREAM" ? "8:1234" : null, socket);
            Assert.NotNull(journal);
            Assert.False(journal.Journaling);
            journal.UseJournal(new LoggingConfiguration { Format = "text", Verbosity = 0 });
            Assert.True(journal.Journaling);
        }
        finally
        {
            File.Delete(socket);
        }
    }

    [Fact]
    public async Task Entries_sent_to_a_real_journald_come_back_from_journalctl_with_their_pod_namespace_container_and_reason()
    {
        if (NspawnMachine.CannotRunReason() is { } reason)
        {
            output.WriteLine($"skipped: {reason}");
            return;
        }
        await using var machine = await NspawnMachine.StartAsync("kps-journal-" + Guid.NewGuid().ToString("N")[..6], [], CancellationToken.None);
        output.WriteLine($"booted in {machine.BootTime.TotalSeconds:0.000} s");
        var identifier = "kps-test-" + Guid.NewGuid().ToString("N")[..8];
        // The machine's journald socket, reached from the host through systemd's root.
        using var writer = new JournalWriter(machine.HostPath(JournalWriter.DefaultSocketPath));
        var fallback = new RecordingLog();
        var text = new JournalKubeletLog(writer, "text", 3, identifier, fallback);
        var json = new JournalKubeletLog(writer, "json", 3, identifier, fallback);
        text.Write(new KubeletLogRecord(KubeletLogLevel.Warning, "Back-off restarting failed container\nsecond line") { Pod = "web", Namespace = "default", Container = "nginx", Reason = "BackOff" });
        json.Write(new KubeletLogRecord(KubeletLogLevel.Info, "Event occurred") { Pod = "db\nREASON=Forged", Namespace = "prod", Reason = "Started", Verbosity = 3 });
        text.Write(new KubeletLogRecord(KubeletLogLevel.Debug, "dropped at verbosity 3"));
        Assert.Empty(fallback.Records);

        IReadOnlyList<JournalEntry> entries = [];
        for (var attempt = 0; attempt < 50 && entries.Count < 2; attempt++)
        {
            var (code, lines) = await machine.RunAsync(["journalctl", "--output=json", "--all", "--no-pager", "SYSLOG_IDENTIFIER=" + identifier], TimeSpan.FromSeconds(30));
            Assert.Equal(0, code);
            entries = [.. lines.Split('\n').Where(l => l.StartsWith('{')).Select(JournalEntry.Parse)];
            if (entries.Count < 2) await Task.Delay(100);
        }
        Assert.Equal(2, entries.Count);
        var backOff = entries[0];
        Assert.Equal("Back-off restarting failed container\nsecond line pod=\"default/web\" container=\"nginx\" reason=\"BackOff\"", backOff.Message);
        Assert.Equal(("web", "default", "nginx", "BackOff"), (backOff.Pod, backOff.Namespace, backOff.Container, backOff.Reason));
        Assert.Equal(4, backOff.Priority);
        Assert.Equal(0, backOff.Verbosity);
        var started = entries[1];
        Assert.Equal("db\nREASON=Forged", started.Pod);
        Assert.Equal("Started", started.Reason);
        Assert.Equal(3, started.Verbosity);
        Assert.Equal(6, started.Priority);
        Assert.Contains("\"msg\":\"Event occurred\"", started.Message, StringComparison.Ordinal);
        Assert.Contains("\"pod\":{\"name\":\"db\\nREASON=Forged\",\"namespace\":\"prod\"}", started.Message, StringComparison.Ordinal);
    }
}
