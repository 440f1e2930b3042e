using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.Certificates;

/// <summary>One kubeadm-shaped fixture set per test run, written to a temporary folder.</summary>
public sealed class PkiFixture : IDisposable
{
    public PkiFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "kubeletps-pki-" + Guid.NewGuid().ToString("N")[..8]);
        Manifest = PkiFixtureSet.Write(Directory, "node-1");
    }

    public string Directory { get; }
    public PkiFixtureManifest Manifest { get; }

    public string this[string name] => Manifest[name];

    /// <summary>The base64 body lines of every private key in a file: what no message may contain.</summary>
    public static IEnumerable<string> KeyLines(string path)
    {
        var inKey = false;
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.StartsWith("-----BEGIN", StringComparison.Ordinal)) { inKey = line.Contains("PRIVATE KEY"); continue; }
            if (line.StartsWith("-----END", StringComparison.Ordinal)) { inKey = false; continue; }
            if (inKey && line.Length >= 16 && !line.Contains(':')) yield return line;
        }
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class PkiCollection : ICollectionFixture<PkiFixture>
{
    public const string Name = "Certificates PKI";
}
