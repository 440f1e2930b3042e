using System.Globalization;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Stats;

/// <summary>
/// Interface counters from a network namespace's /proc/net/dev (the node's own, or a pod's through
/// /proc/PID/net/dev of a process in it). Loopback is left out, as cadvisor leaves it out.
/// </summary>
public static class NetDevReader
{
    /// <summary>kubelet's network.DefaultInterfaceName: the interface whose counters a pod's (and node's) NetworkStats carries inline.</summary>
    public const string DefaultInterfaceName = "eth0";

    public static IReadOnlyList<NetworkInterfaceSample> Read(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
        return Parse(text);
    }

    /// <summary>
    /// Parses /proc/net/dev: two header lines, then "name: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame
    /// rx_compressed rx_multicast tx_bytes tx_packets tx_errs …".
    /// </summary>
    public static IReadOnlyList<NetworkInterfaceSample> Parse(string text)
    {
        var result = new List<NetworkInterfaceSample>();
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon < 0) continue;
            var name = line[..colon].Trim();
            if (name.Length == 0 || name == "lo") continue;
            var fields = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 11) continue;
            ulong? F(int i) => ulong.TryParse(fields[i], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
            result.Add(new NetworkInterfaceSample(name, F(0), F(2), F(8), F(10)));
        }
        return result;
    }
}
