using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>An image to put into the archive: its name, command and environment.</summary>
public sealed record OciImageDefinition(string Name, IReadOnlyList<string> Cmd)
{
    public IReadOnlyList<string> Env { get; init; } = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    /// <summary>The image config's User (Dockerfile USER); null leaves it out, so the image runs as root.</summary>
    public string? User { get; init; }
}

/// <summary>
/// Builds an OCI image layout archive from the host's statically linked busybox, because the
/// tests have no registry. Content is deterministic (fixed mtimes, owners, order), so the
/// digests are stable and the archive can be cached between runs.
/// </summary>
public static class OciImageBuilder
{
    public const string BusyboxImage = "kubeletps.local/busybox:latest";
    public const string PauseImage = "kubeletps.local/pause:latest";

    /// <summary>Busybox whose config says USER 1000 (a numeric non-root user, for runAsNonRoot).</summary>
    public const string BusyboxUser1000Image = "kubeletps.local/busybox-user1000:latest";

    /// <summary>Busybox whose config says USER app (a user name kubelet cannot verify as non-root).</summary>
    public const string BusyboxNamedUserImage = "kubeletps.local/busybox-named-user:latest";

    /// <summary>
    /// A pause that exits on SIGTERM (sh as PID 1 ignores it otherwise) and reaps children;
    /// the runtime kills sandboxes with SIGKILL anyway.
    /// </summary>
    public static readonly IReadOnlyList<string> PauseCommand = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"];

    public static readonly IReadOnlyList<OciImageDefinition> DefaultImages =
    [
        new(BusyboxImage, ["sh"]),
        new(PauseImage, PauseCommand),
        new(BusyboxUser1000Image, ["sh"]) { User = "1000" },
        new(BusyboxNamedUserImage, ["sh"]) { User = "app" },
    ];

    /// <summary>The busybox applets linked into /bin.</summary>
    public static readonly IReadOnlyList<string> Applets =
    [
        "[", "[[", "awk", "basename", "cat", "chmod", "chown", "cp", "cut", "date", "dd", "df", "dirname", "du", "echo", "env",
        "expr", "false", "find", "grep", "head", "hostname", "httpd", "id", "ifconfig", "ip", "kill", "killall", "ln", "ls",
        "mkdir", "mkfifo", "mount", "mv", "nc", "netstat", "nslookup", "ping", "printf", "ps", "pwd", "readlink", "rm", "rmdir",
        "sed", "seq", "sh", "sleep", "sort", "stat", "tail", "tee", "test", "timeout", "top", "touch", "tr", "true", "uname",
        "uniq", "uptime", "wc", "wget", "whoami", "xargs", "yes",
    ];

    private const string BuilderVersion = "1";
    private static readonly DateTimeOffset FixedTime = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = null };

    /// <summary>Default cache directory for built archives.</summary>
    public static string DefaultCacheDirectory => Path.Combine(Path.GetTempPath(), "kubeletps-images");

    /// <summary>
    /// Returns the path of an OCI archive holding <paramref name="images"/> (default: busybox and pause),
    /// building it only when no archive for the same busybox binary and image set is cached.
    /// </summary>
    public static async Task<string> GetOrBuildAsync(string? cacheDirectory = null, IReadOnlyList<OciImageDefinition>? images = null, string busyboxPath = "/bin/busybox", CancellationToken cancellationToken = default)
    {
        images ??= DefaultImages;
        cacheDirectory ??= DefaultCacheDirectory;
        if (!File.Exists(busyboxPath))
        {
            throw new FileNotFoundException($"{busyboxPath} not found; install busybox-static", busyboxPath);
        }

        var busybox = await File.ReadAllBytesAsync(busyboxPath, cancellationToken).ConfigureAwait(false);
        var key = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(
            BuilderVersion + "\n" + Hex(SHA256.HashData(busybox)) + "\n" + JsonSerializer.Serialize(images, Json))))[..16];
        Directory.CreateDirectory(cacheDirectory);
        var path = Path.Combine(cacheDirectory, $"kubeletps-images-{key}.tar");
        if (File.Exists(path))
        {
            return path;
        }

        // Build beside the target and rename, so concurrent test runs never see half a file.
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        await using (var output = File.Create(temp))
        {
            Build(output, busybox, images);
        }

        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>Writes an OCI image layout archive (oci-layout, index.json, blobs/) to <paramref name="output"/>.</summary>
    public static void Build(Stream output, byte[] busybox, IReadOnlyList<OciImageDefinition> images)
    {
        var layer = BuildRootFsLayer(busybox);
        var layerDigest = Digest(layer);
        var architecture = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "amd64",
            Architecture.Arm64 => "arm64",
            Architecture.Arm => "arm",
            var other => other.ToString().ToLowerInvariant(),
        };

        var blobs = new SortedDictionary<string, byte[]>(StringComparer.Ordinal) { [layerDigest] = layer };
        var manifests = new List<object>();
        foreach (var image in images)
        {
            var config = JsonSerializer.SerializeToUtf8Bytes(new
            {
                created = FixedTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                architecture,
                os = "linux",
                config = image.User is null
                    ? (object)new { Env = image.Env, Cmd = image.Cmd, WorkingDir = "/" }
                    : new { User = image.User, Env = image.Env, Cmd = image.Cmd, WorkingDir = "/" },
                rootfs = new { type = "layers", diff_ids = new[] { layerDigest } },
            }, Json);
            var configDigest = Digest(config);
            blobs[configDigest] = config;

            var manifest = JsonSerializer.SerializeToUtf8Bytes(new
            {
                schemaVersion = 2,
                mediaType = "application/vnd.oci.image.manifest.v1+json",
                config = new { mediaType = "application/vnd.oci.image.config.v1+json", digest = configDigest, size = config.Length },
                layers = new[] { new { mediaType = "application/vnd.oci.image.layer.v1.tar", digest = layerDigest, size = layer.Length } },
            }, Json);
            var manifestDigest = Digest(manifest);
            blobs[manifestDigest] = manifest;

            var tag = image.Name[(image.Name.LastIndexOf(':') + 1)..];
            manifests.Add(new Dictionary<string, object>
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = manifestDigest,
                ["size"] = manifest.Length,
                // containerd's importer names images from this annotation.
                ["annotations"] = new Dictionary<string, string>
                {
                    ["io.containerd.image.name"] = image.Name,
                    ["org.opencontainers.image.ref.name"] = tag,
                },
                ["platform"] = new { architecture, os = "linux" },
            });
        }

        var index = JsonSerializer.SerializeToUtf8Bytes(new { schemaVersion = 2, manifests }, Json);
        using var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        WriteFile(tar, "oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"), 0b110_100_100);
        WriteFile(tar, "index.json", index, 0b110_100_100);
        WriteDirectory(tar, "blobs/");
        WriteDirectory(tar, "blobs/sha256/");
        foreach (var (digest, content) in blobs)
        {
            WriteFile(tar, "blobs/sha256/" + digest["sha256:".Length..], content, 0b110_100_100);
        }
    }

    private static byte[] BuildRootFsLayer(byte[] busybox)
    {
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Ustar, leaveOpen: true))
        {
            WriteDirectory(tar, "bin/");
            WriteFile(tar, "bin/busybox", busybox, 0b111_101_101);
            foreach (var applet in Applets.Order(StringComparer.Ordinal))
            {
                tar.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, "bin/" + applet)
                {
                    LinkName = "busybox",
                    ModificationTime = FixedTime,
                    Mode = (UnixFileMode)0b111_111_111,
                });
            }

            WriteDirectory(tar, "dev/");
            WriteDirectory(tar, "etc/");
            WriteFile(tar, "etc/group", Encoding.UTF8.GetBytes("root:x:0:\nnobody:x:65534:\n"), 0b110_100_100);
            WriteFile(tar, "etc/passwd", Encoding.UTF8.GetBytes("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"), 0b110_100_100);
            WriteDirectory(tar, "home/");
            WriteDirectory(tar, "proc/");
            WriteDirectory(tar, "root/", 0b111_000_000);
            WriteDirectory(tar, "sys/");
            WriteDirectory(tar, "tmp/", 0b111_111_111 | (int)UnixFileMode.StickyBit);
            WriteDirectory(tar, "var/");
            WriteDirectory(tar, "var/www/");
        }

        return buffer.ToArray();
    }

    private static void WriteDirectory(TarWriter tar, string name, int mode = 0b111_101_101)
        => tar.WriteEntry(new UstarTarEntry(TarEntryType.Directory, name) { ModificationTime = FixedTime, Mode = (UnixFileMode)mode });

    private static void WriteFile(TarWriter tar, string name, byte[] content, int mode)
        => tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            ModificationTime = FixedTime,
            Mode = (UnixFileMode)mode,
            DataStream = new MemoryStream(content, writable: false),
        });

    private static string Digest(byte[] content) => "sha256:" + Hex(SHA256.HashData(content));

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
