using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Net8Host;

/// <summary>
/// Runs the shipped net8.0 engine on .NET 8: a kubelet config read, a node certificate check on
/// a generated certificate and a CRI Version call. Prints one JSON object for the test to assert.
/// Usage: KubeletPS.Net8Host ENGINE_DIRECTORY WORK_DIRECTORY CRI_ENDPOINT
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 3)
        {
            await Console.Error.WriteLineAsync("usage: KubeletPS.Net8Host ENGINE_DIRECTORY WORK_DIRECTORY CRI_ENDPOINT");
            return 2;
        }
        var engine = Path.GetFullPath(args[0]);
        // The engine and its packages are not in this program's folder: resolve them from the
        // shipped directory, as the module's EngineLoadContext does inside PowerShell 7.4. This
        // runtime has no ASP.NET Core shared framework, so the packages it would provide come from
        // the shipped fallback/ folder, as the module loads them where that framework is absent.
        AssemblyLoadContext.Default.Resolving += (context, name) =>
        {
            foreach (var directory in new[] { engine, Path.Combine(engine, "fallback") })
            {
                var path = Path.Combine(directory, name.Name + ".dll");
                if (File.Exists(path)) return context.LoadFromAssemblyPath(path);
            }
            return null;
        };
        var result = await EngineRun.RunAsync(args[1], args[2]);
        result["runtime"] = Environment.Version.ToString();
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }
}

/// <summary>The engine calls, in a type of their own so that the engine loads only after the resolver is in place.</summary>
internal static class EngineRun
{
    public static async Task<Dictionary<string, object?>> RunAsync(string work, string endpoint)
    {
        Directory.CreateDirectory(work);
        var result = new Dictionary<string, object?>
        {
            ["engine"] = typeof(Core.Configuration.KubeletConfigLoader).Assembly.Location,
        };

        var configPath = Path.Combine(work, "config.yaml");
        await File.WriteAllTextAsync(configPath, """
            apiVersion: kubelet.config.k8s.io/v1beta1
            kind: KubeletConfiguration
            staticPodPath: /etc/kubernetes/net8-manifests
            clusterDomain: net8.local
            """);
        var loaded = await Core.Configuration.KubeletConfigLoader.LoadAsync(configPath, null, null);
        result["staticPodPath"] = loaded.Configuration.StaticPodPath;
        result["clusterDomain"] = loaded.Configuration.ClusterDomain;

        var (certificate, key, ca) = WriteNodeCertificate(work, "net8");
        var report = await Core.Certificates.Checks.NodeCertificateTester.TestAsync(new Core.Certificates.Checks.CertificateTestOptions
        {
            Certificate = Core.Certificates.PemSource.FromFile(certificate),
            Key = Core.Certificates.PemSource.FromFile(key),
            CertificateAuthority = Core.Certificates.PemSource.FromFile(ca),
            NodeName = "net8",
        }, null, CancellationToken.None);
        result["certificatePassed"] = report.Passed;
        result["certificateChecks"] = report.Checks.Select(c => $"{c.Name}={c.Passed}").ToList();

        await using var client = new CriRuntimeClient(endpoint);
        var version = await client.VersionAsync();
        result["runtimeName"] = version.RuntimeName;
        result["runtimeApiVersion"] = version.RuntimeApiVersion;
        return result;
    }

    /// <summary>A cluster CA and a node client certificate it signed (system:node:NAME in system:nodes), as PEM files.</summary>
    private static (string Certificate, string Key, string Ca) WriteNodeCertificate(string work, string nodeName)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=net8-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        using var caCertificate = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));

        using var nodeKey = RSA.Create(2048);
        var request = new CertificateRequest($"CN=system:node:{nodeName}, O=system:nodes", nodeKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var node = request.Create(caCertificate, now.AddMinutes(-5), now.AddDays(300), RandomNumberGenerator.GetBytes(16));

        var paths = (Path.Combine(work, "kubelet-client.crt"), Path.Combine(work, "kubelet-client.key"), Path.Combine(work, "ca.crt"));
        File.WriteAllText(paths.Item1, node.ExportCertificatePem());
        // A key file as kubelet writes it: 0600 (Test-KubeletCertificate's KeyFilePrivate check).
        File.WriteAllText(paths.Item2, "");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(paths.Item2, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(paths.Item2, nodeKey.ExportRSAPrivateKeyPem());
        File.WriteAllText(paths.Item3, caCertificate.ExportCertificatePem());
        return paths;
    }
}
