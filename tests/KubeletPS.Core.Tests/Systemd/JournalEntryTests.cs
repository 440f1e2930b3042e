using KubeletPS.Core.Systemd;

namespace KubeletPS.Core.Tests.Systemd;

public sealed class JournalEntryTests
{
    [Fact]
    public void A_json_line_gives_time_unit_priority_pid_message_and_the_agents_fields()
    {
        const string line = """{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1796127180123456","PRIORITY":"4","_PID":"845","_HOSTNAME":"node-1","_SYSTEMD_UNIT":"kubeletps.service","SYSLOG_IDENTIFIER":"kubeletps","MESSAGE":"Event occurred","POD":"web","NAMESPACE":"default","CONTAINER":"nginx","REASON":"BackOff","VERBOSITY":"3"}""";
        var entry = JournalEntry.Parse(line);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796127180).AddTicks(1234560), entry.Time);
        Assert.Equal("kubeletps.service", entry.Unit);
        Assert.Equal(4, entry.Priority);
        Assert.Equal("warning", entry.PriorityName);
        Assert.Equal(845, entry.Pid);
        Assert.Equal("node-1", entry.Hostname);
        Assert.Equal("kubeletps", entry.SyslogIdentifier);
        Assert.Equal("Event occurred", entry.Message);
        Assert.Equal(("web", "default", "nginx", "BackOff", 3), (entry.Pod, entry.Namespace, entry.Container, entry.Reason, entry.Verbosity));
        Assert.Equal("s=1;i=2", entry.Cursor);
        Assert.Equal("845", entry.Fields["_PID"]);
    }

    [Fact]
    public void A_message_that_is_not_UTF8_comes_as_bytes_and_is_decoded_with_replacement_characters()
    {
        // journalctl -o json prints a field that is not valid UTF-8 as an array of byte values: "caf\xe9 ok".
        const string line = """{"__REALTIME_TIMESTAMP":"1","MESSAGE":[99,97,102,233,32,111,107],"_SYSTEMD_UNIT":"x.service"}""";
        Assert.Equal("caf\uFFFD ok", JournalEntry.Parse(line).Message);
    }

    [Fact]
    public void A_field_given_twice_keeps_its_first_value_a_field_too_large_is_left_out_and_systemd_names_the_unit_it_speaks_of()
    {
        const string line = """{"__REALTIME_TIMESTAMP":"1","MESSAGE":"Started kubeletps.service.","UNIT":"kubeletps.service","_SYSTEMD_UNIT":"init.scope","POD":["a",[98]],"REASON":null}""";
        var entry = JournalEntry.Parse(line);
        Assert.Equal("kubeletps.service", entry.Unit);
        Assert.Equal("a", entry.Pod);
        Assert.Null(entry.Reason);
        Assert.Equal(6, entry.Priority);
        Assert.Equal("info", entry.PriorityName);
    }

    [Theory]
    [InlineData("-- No entries --")]
    [InlineData("[1,2]")]
    [InlineData("{\"MESSAGE\":")]
    public void A_line_that_is_not_a_json_object_is_invalid_data(string line)
    {
        var e = Assert.Throws<KubeletException>(() => JournalEntry.Parse(line));
        Assert.Equal(KubeletErrorKind.InvalidData, e.Category);
    }

    [Fact]
    public void The_query_becomes_journalctl_arguments_each_value_inside_its_own_option()
    {
        var query = new JournalQuery
        {
            // Values that look like options stay values: each is glued to its option name.
            Units = ["kubeletps", "--file=/etc/shadow"],
            Since = new DateTimeOffset(2026, 12, 1, 9, 0, 0, TimeSpan.FromHours(1)).AddTicks(1234560),
            Until = new DateTimeOffset(2026, 12, 1, 9, 30, 0, TimeSpan.Zero),
            Tail = 20,
            Priority = "warning..err",
            Grep = "--merge",
            Follow = true,
        };
        Assert.Equal(
            ["--output=json", "--all", "--no-pager", "--quiet", "--unit=kubeletps.service", "--unit=--file=/etc/shadow.service",
             "--since=2026-12-01 08:00:00.123456 UTC", "--until=2026-12-01 09:30:00.000000 UTC", "--lines=20", "--priority=warning..err", "--grep=--merge", "--follow"],
            query.Arguments());
    }

    [Fact]
    public void A_journal_path_is_a_file_or_a_directory_option()
    {
        var dir = Directory.CreateTempSubdirectory("kps-journal-").FullName;
        try
        {
            Assert.Contains("--directory=" + dir, new JournalQuery { JournalPath = dir }.Arguments());
            Assert.Contains("--file=" + Path.Combine(dir, "system.journal"), new JournalQuery { JournalPath = Path.Combine(dir, "system.journal") }.Arguments());
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("loud")]
    [InlineData("err..")]
    [InlineData("8")]
    [InlineData("err;rm")]
    public void A_priority_journalctl_does_not_know_is_refused_naming_the_field(string priority)
    {
        var e = Assert.Throws<KubeletException>(() => new JournalQuery { Priority = priority }.Arguments());
        Assert.Equal(KubeletErrorKind.InvalidArgument, e.Category);
        Assert.Equal("Priority", e.Target);
    }

    [Fact]
    public void Since_after_until_is_refused()
    {
        var e = Assert.Throws<KubeletException>(() => new JournalQuery { Since = DateTimeOffset.UnixEpoch.AddDays(2), Until = DateTimeOffset.UnixEpoch }.Arguments());
        Assert.Equal("Since", e.Target);
    }
}
