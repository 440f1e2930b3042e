using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>
/// A private image registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with its own storage,
/// htpasswd (bcrypt) authentication and TLS from a test CA; containerd is pointed at it with
/// <see cref="WriteContainerdHostsDirectory"/> (CRI registry config_path, the CA named in hosts.toml).
/// Started and stopped by the test; only the process it started is killed.
/// </summary>
public sealed class PrivateRegistry : IAsyncDisposable
{
    private readonly Process _process;

    private PrivateRegistry(string baseDir, int port, string user, string password, ClusterPki pki, Process process)
    {
        BaseDir = baseDir;
        Port = port;
        User = user;
        Password = password;
        Pki = pki;
        _process = process;
    }

    public string BaseDir { get; }
    public int Port { get; }
    public string User { get; }
    public string Password { get; }
    public ClusterPki Pki { get; }

    /// <summary>host:port, as image names and docker configs name it.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public string CaPath => Path.Combine(BaseDir, "certs", "ca.crt");
    public string LogPath => Path.Combine(BaseDir, "registry.log");

    public static async Task<PrivateRegistry> StartAsync(string baseDir, string user, string password, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(baseDir);
        var certs = Directory.CreateDirectory(Path.Combine(baseDir, "certs")).FullName;
        var pki = new ClusterPki("kubeletps-registry-ca", TestKeyType.EcP256);
        var server = pki.Issue(new CertificateSpec("127.0.0.1") { ClientAuth = false, ServerAuth = true, IpAddresses = [IPAddress.Loopback] });
        await File.WriteAllTextAsync(Path.Combine(certs, "ca.crt"), pki.CA.CertificatePem, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(baseDir, "server.crt"), server.CertificatePem, cancellationToken).ConfigureAwait(false);
        var keyPath = Path.Combine(baseDir, "server.key");
        await File.WriteAllTextAsync(keyPath, server.KeyPem(TestKeyEncoding.Pkcs8), cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // htpasswd -B reads the password from stdin (-i), so it is on no command line.
        var htpasswd = await RunAsync("htpasswd", ["-niB", user], password + "\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(baseDir, "htpasswd"), htpasswd, cancellationToken).ConfigureAwait(false);

        var port = FreePort();
        var config = Path.Combine(baseDir, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: info
            storage:
              filesystem:
                rootdirectory: {Path.Combine(baseDir, "storage")}
            http:
              addr: 127.0.0.1:{port}
              tls:
                certificate: {Path.Combine(baseDir, "server.crt")}
                key: {keyPath}
            auth:
              htpasswd:
                realm: kubeletps-test-registry
                path: {Path.Combine(baseDir, "htpasswd")}
            """, cancellationToken).ConfigureAwait(false);

        var info = new ProcessStartInfo("docker-registry", ["serve", config])
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("docker-registry did not start");
        var log = new StreamWriter(Path.Combine(baseDir, "registry.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => { lock (log) log.Dispose(); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var registry = new PrivateRegistry(baseDir, port, user, password, pki, process);
        try
        {
            await registry.WaitReadyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return registry;
    }

    /// <summary>The registry answers /v2/ with 401 (authentication required) once it listens.</summary>
    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) =>
            {
                using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
                chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(Pki.CA.Certificate);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return cert is not null && chain.Build(cert);
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"docker-registry exited with {_process.ExitCode}; see {LogPath}");
            try
            {
                using var response = await client.GetAsync($"https://{Host}/v2/", cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.Unauthorized) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"docker-registry on {Host} did not answer; see {LogPath}");
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Pushes <paramref name="image"/> of the locally built OCI archive to <c>HOST/<paramref name="repository"/></c>
    /// with skopeo, authenticated and verified against the test CA.
    /// </summary>
    public async Task PushAsync(string ociArchive, string image, string repository, CancellationToken cancellationToken = default)
    {
        // The archive holds several images, all tagged "latest": a layout of the one image is copied.
        var layout = Path.Combine(BaseDir, "layout-" + Guid.NewGuid().ToString("N")[..8]);
        System.Formats.Tar.TarFile.ExtractToDirectory(ociArchive, Directory.CreateDirectory(layout).FullName, overwriteFiles: true);
        var index = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(layout, "index.json"), cancellationToken).ConfigureAwait(false))!;
        var manifests = index["manifests"]!.AsArray();
        var chosen = manifests.FirstOrDefault(m => (string?)m!["annotations"]?["io.containerd.image.name"] == image)
            ?? throw new InvalidOperationException($"{ociArchive} has no image {image}");
        index["manifests"] = new JsonArray(chosen.DeepClone());
        await File.WriteAllTextAsync(Path.Combine(layout, "index.json"), index.ToJsonString(), cancellationToken).ConfigureAwait(false);
        var tag = (string?)chosen["annotations"]?["org.opencontainers.image.ref.name"] ?? "latest";
        await RunAsync("skopeo", ["copy", "--insecure-policy", "--quiet", "--dest-creds", $"{User}:{Password}", "--dest-cert-dir", Path.GetDirectoryName(CaPath)!,
            $"oci:{layout}:{tag}", $"docker://{Host}/{repository}"], null, cancellationToken).ConfigureAwait(false);
        Directory.Delete(layout, recursive: true);
    }

    /// <summary>Writes containerd's registry hosts directory (CRI <c>registry.config_path</c>): DIR/HOST/hosts.toml trusting the test CA; returns DIR.</summary>
    public string WriteContainerdHostsDirectory(string directory)
    {
        var host = Directory.CreateDirectory(Path.Combine(directory, Host)).FullName;
        File.WriteAllText(Path.Combine(host, "hosts.toml"), $"""
            server = "https://{Host}"

            [host."https://{Host}"]
              capabilities = ["pull", "resolve"]
              ca = "{CaPath}"
            """);
        return directory;
    }

    /// <summary>A dockerconfigjson document (as a pull secret or the node's config.json holds) for this registry.</summary>
    public string DockerConfigJson(string? user = null, string? password = null) =>
        JsonSerializer.Serialize(new { auths = new Dictionary<string, object> { [Host] = new { auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{user ?? User}:{password ?? Password}")) } } });

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> args, string? stdin, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        if (stdin is not null) await process.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {args[0]} failed ({process.ExitCode}): {await error.ConfigureAwait(false)}");
        return await output.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        _process.Dispose();
    }
}
