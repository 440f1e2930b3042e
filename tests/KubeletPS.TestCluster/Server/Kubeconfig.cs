using System.Text;

namespace KubeletPS.TestCluster.Server;

/// <summary>Writes kubeconfig files with the CA, client certificate and key embedded (the shape kubeadm writes).</summary>
public static class Kubeconfig
{
    public const string ClusterName = "kubeletps-test";

    public static string Render(string server, string caPem, string userName, string certificatePem, string keyPem)
    {
        static string B64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));
        var context = $"{userName}@{ClusterName}";
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {ClusterName}
              cluster:
                certificate-authority-data: {B64(caPem)}
                server: {server}
            contexts:
            - name: "{context}"
              context:
                cluster: {ClusterName}
                user: "{userName}"
            current-context: "{context}"
            preferences: {"{}"}
            users:
            - name: "{userName}"
              user:
                client-certificate-data: {B64(certificatePem)}
                client-key-data: {B64(keyPem)}

            """;
    }

    /// <summary>A kubeconfig whose user authenticates with a bearer token (kubeadm's bootstrap-kubelet.conf shape).</summary>
    public static string RenderToken(string server, string caPem, string userName, string token)
    {
        var context = $"{userName}@{ClusterName}";
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {ClusterName}
              cluster:
                certificate-authority-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(caPem))}
                server: {server}
            contexts:
            - name: "{context}"
              context:
                cluster: {ClusterName}
                user: "{userName}"
            current-context: "{context}"
            preferences: {"{}"}
            users:
            - name: "{userName}"
              user:
                token: {token}

            """;
    }

    /// <summary>Writes <paramref name="content"/> readable by the owner only: the file holds a private key.</summary>
    public static void WritePrivateFile(string path, string content)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(path, content);
            return;
        }
        using (var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
