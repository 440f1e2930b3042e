using System.Text;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Tests.Pods.Volumes;

/// <summary>The atomic writer on a temporary directory: layout, updates, removals, nested paths, refused paths, unchanged payloads.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AtomicVolumeWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static Dictionary<string, FileProjection> Payload(params (string Path, string Content, int Mode)[] files) =>
        files.ToDictionary(f => f.Path, f => new FileProjection(Encoding.UTF8.GetBytes(f.Content), f.Mode));

    private string? Link(string name) => new FileInfo(Path.Combine(_dir, name)).LinkTarget;

    private string Read(string path) => File.ReadAllText(Path.Combine(_dir, path));

    private string[] TimestampDirs() => Directory.GetDirectories(_dir, "..*").Select(p => Path.GetFileName(p)!).Where(n => n != AtomicVolumeWriter.DataDirName).ToArray();

    [Fact]
    public void The_first_write_puts_the_files_in_a_timestamped_directory_behind_data_and_links_each_name_through_it()
    {
        Assert.True(new AtomicVolumeWriter(_dir).Write(Payload(("greeting", "hello", 0x1A4), ("secret", "s3cret", 0x100))));

        var ts = Assert.Single(TimestampDirs());
        Assert.Matches(@"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$", ts);
        Assert.Equal(ts, Link("..data"));
        Assert.Equal("..data/greeting", Link("greeting"));
        Assert.Equal("..data/secret", Link("secret"));
        Assert.Equal("hello", Read("greeting"));
        Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(Path.Combine(_dir, ts, "secret")));
        Assert.Equal((UnixFileMode)0x1A4, File.GetUnixFileMode(Path.Combine(_dir, ts, "greeting")));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Path.Combine(_dir, ts)));
        Assert.False(File.Exists(Path.Combine(_dir, "..data_tmp")));
    }

    [Fact]
    public void An_update_swaps_data_to_a_new_directory_removes_the_old_one_and_the_links_of_names_no_longer_there()
    {
        var writer = new AtomicVolumeWriter(_dir);
        writer.Write(Payload(("color", "blue", 0x1A4), ("old", "x", 0x1A4), ("conf/a.conf", "a", 0x1A4)));
        var first = Assert.Single(TimestampDirs());

        Assert.True(writer.Write(Payload(("color", "green", 0x1A4), ("new", "y", 0x1A4))));

        var second = Assert.Single(TimestampDirs());
        Assert.NotEqual(first, second);
        Assert.Equal(second, Link("..data"));
        Assert.Equal("green", Read("color"));
        Assert.Equal("y", Read("new"));
        Assert.Null(Link("old"));
        Assert.False(File.Exists(Path.Combine(_dir, "old")));
        Assert.Null(Link("conf"));
        Assert.False(Directory.Exists(Path.Combine(_dir, "conf")));
        Assert.Equal(new[] { "..data", "color", "new", second }.Order(StringComparer.Ordinal), Directory.EnumerateFileSystemEntries(_dir).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Nested_paths_link_only_their_top_level_directory_and_a_removed_nested_file_goes_with_the_old_directory()
    {
        var writer = new AtomicVolumeWriter(_dir);
        writer.Write(Payload(("conf/app/a.conf", "a", 0x180), ("conf/b.conf", "b", 0x1A4), ("top", "t", 0x1A4)));

        Assert.Equal("..data/conf", Link("conf"));
        Assert.Null(Link(Path.Combine(Link("..data")!, "conf")));
        Assert.Equal("a", Read("conf/app/a.conf"));
        Assert.Equal((UnixFileMode)0x180, File.GetUnixFileMode(Path.Combine(_dir, "conf", "app", "a.conf")));
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Path.Combine(_dir, Link("..data")!, "conf", "app")));

        writer.Write(Payload(("conf/b.conf", "b2", 0x1A4), ("top", "t", 0x1A4)));
        Assert.Equal("b2", Read("conf/b.conf"));
        Assert.False(Directory.Exists(Path.Combine(_dir, "conf", "app")));
        Assert.Equal("..data/conf", Link("conf"));
    }

    [Fact]
    public void An_unchanged_payload_is_not_written_again_but_a_changed_mode_is()
    {
        var writer = new AtomicVolumeWriter(_dir);
        writer.Write(Payload(("a", "1", 0x1A4), ("d/b", "2", 0x1A4)));
        var ts = Link("..data");
        var written = File.GetLastWriteTimeUtc(Path.Combine(_dir, ts!, "a"));

        Assert.False(writer.Write(Payload(("a", "1", 0x1A4), ("d/b", "2", 0x1A4))));
        Assert.Equal(ts, Link("..data"));
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(_dir, ts!, "a")));

        Assert.True(writer.Write(Payload(("a", "1", 0x100), ("d/b", "2", 0x1A4))));
        Assert.NotEqual(ts, Link("..data"));
        Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(Path.Combine(_dir, "a")));
    }

    [Theory]
    [InlineData("/etc/passwd", "invalid path: must be relative path: /etc/passwd")]
    [InlineData("../escape", "invalid path: must not contain '..': ../escape")]
    [InlineData("a/../../escape", "invalid path: must not contain '..': a/../../escape")]
    [InlineData("..data/x", "invalid path: must not start with '..': ..data/x")]
    [InlineData("..2020_01_01_00_00_00.1", "invalid path: must not start with '..': ..2020_01_01_00_00_00.1")]
    [InlineData("", "invalid path: must not be empty: \"\"")]
    public void A_payload_path_that_is_absolute_climbs_out_or_names_the_writers_own_entries_is_refused_and_nothing_is_written(string path, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new AtomicVolumeWriter(_dir).Write(Payload(("fine", "ok", 0x1A4), (path, "bad", 0x1A4))));
        Assert.Equal(message, e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public void A_name_longer_than_255_characters_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new AtomicVolumeWriter(_dir).Write(Payload((new string('a', 256), "x", 0x1A4))));
        Assert.Equal("invalid path: filenames must be less than or equal to 255 characters", e.Message);
    }

    [Fact]
    public void Plain_files_an_older_agent_wrote_in_place_and_a_directory_of_a_write_cut_short_are_replaced_on_the_first_write()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "..2020_01_01_00_00_00.1"));
        File.WriteAllText(Path.Combine(_dir, "..2020_01_01_00_00_00.1", "greeting"), "half");
        File.WriteAllText(Path.Combine(_dir, "greeting"), "stale");
        File.WriteAllText(Path.Combine(_dir, "removed"), "stale");
        Directory.CreateDirectory(Path.Combine(_dir, "conf"));
        File.WriteAllText(Path.Combine(_dir, "conf", "a"), "stale");

        new AtomicVolumeWriter(_dir).Write(Payload(("greeting", "fresh", 0x1A4), ("conf/a", "fresh", 0x1A4)));

        Assert.Equal("..data/greeting", Link("greeting"));
        Assert.Equal("..data/conf", Link("conf"));
        Assert.Equal("fresh", Read("greeting"));
        Assert.Equal("fresh", Read("conf/a"));
        Assert.False(File.Exists(Path.Combine(_dir, "removed")));
        Assert.Single(TimestampDirs());
    }
}
