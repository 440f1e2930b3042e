namespace KubeletPS.Core.Tests.Configuration;

/// <summary>A temporary folder for configuration files, deleted with the test.</summary>
internal sealed class ConfigTestFiles : IDisposable
{
    public ConfigTestFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "kubeletps-config-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string Write(string relativePath, string text)
    {
        var path = Path.Combine(Directory, relativePath);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.Replace("\r\n", "\n"));
        return path;
    }

    public string Config(string body) => Write("config.yaml",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" + body);

    /// <summary>The repository's Pester test data (kubeadm, kind, broken files).</summary>
    public static string Data(string relativePath)
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "KubeletPS.sln"))) dir = Path.GetDirectoryName(dir);
        return Path.Combine(dir ?? throw new InvalidOperationException("repository root not found"), "tests/Pester/data", relativePath);
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
