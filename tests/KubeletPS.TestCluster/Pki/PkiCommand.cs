using System.Text.Json;

namespace KubeletPS.TestCluster.Pki;

/// <summary>
/// `KubeletPS.TestCluster pki --dir DIR [--node NAME]`: writes <see cref="PkiFixtureSet"/> and
/// prints a JSON manifest ({ directory, nodeName, files: { name: path } }) on standard output.
/// </summary>
public static class PkiCommand
{
    public static Task<int> RunAsync(string[] args)
    {
        string? directory = null;
        var nodeName = "node-1";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--dir" when i + 1 < args.Length: directory = args[++i]; break;
                case "--node" when i + 1 < args.Length: nodeName = args[++i]; break;
                default:
                    Console.Error.WriteLine($"pki: unexpected argument '{args[i]}'. Usage: pki --dir DIR [--node NAME]");
                    return Task.FromResult(2);
            }
        }
        if (directory is null)
        {
            Console.Error.WriteLine("pki: --dir is required. Usage: pki --dir DIR [--node NAME]");
            return Task.FromResult(2);
        }
        var manifest = PkiFixtureSet.Write(directory, nodeName);
        Console.WriteLine(JsonSerializer.Serialize(
            new { directory = manifest.Directory, nodeName = manifest.NodeName, files = manifest.Files },
            new JsonSerializerOptions { WriteIndented = true }));
        return Task.FromResult(0);
    }
}
