using System.Globalization;
using System.Text;
using KubeletPS.Core.Pods.Pleg;

namespace KubeletPS.Core.Server.Endpoints;

/// <summary>One named healthz check: null when healthy, else the reason.</summary>
public sealed record KubeletHealthCheck(string Name, Func<string?> Check);

/// <summary>
/// kubelet's /healthz checks (k8s.io/apiserver/pkg/server/healthz with kubelet's checkers): ping, log, syncloop (the
/// sync loop ran within max(2 × syncFrequency, 5m), SyncLoopHealthCheck) and pleg (relisted within 3m, GenericPLEG.Healthy).
/// </summary>
public sealed class KubeletHealthChecks
{
    /// <summary>kubelet's relistThreshold.</summary>
    public static readonly TimeSpan PlegRelistThreshold = PlegHealth.RelistThreshold;

    public KubeletHealthChecks(IEnumerable<KubeletHealthCheck>? checks = null)
    {
        Checks = [new("ping", () => null), new("log", () => null), .. checks ?? []];
    }

    public IReadOnlyList<KubeletHealthCheck> Checks { get; }

    /// <summary>The kubelet's own checks over the sync loop's last run and the last PLEG relist.</summary>
    public static KubeletHealthChecks ForSyncLoop(Func<DateTimeOffset?> lastSyncLoop, Func<DateTimeOffset?> lastRelist, TimeSpan syncFrequency, TimeProvider time)
    {
        var syncThreshold = syncFrequency * 2 < TimeSpan.FromMinutes(5) ? TimeSpan.FromMinutes(5) : syncFrequency * 2;
        return new KubeletHealthChecks(
        [
            new("syncloop", () => lastSyncLoop() is { } entered && time.GetUtcNow() > entered + syncThreshold ? "sync Loop took longer than expected" : null),
            new("pleg", () => PlegHealth.Check(lastRelist(), time.GetUtcNow())),
        ]);
    }

    /// <summary>
    /// The healthz handler's answer for <paramref name="name"/> (one check) or all: 200 "ok", or with verbose (or on a
    /// failure) one [+]/[-] line per check and "healthz check passed"/"failed". Failure reasons are withheld as the
    /// apiserver does (they go to the log).
    /// </summary>
    public (int Status, string Body, IReadOnlyList<string> Failures) Evaluate(string? name, bool verbose, IReadOnlySet<string>? exclude = null)
    {
        if (name is not null)
        {
            var single = Checks.FirstOrDefault(c => c.Name == name);
            if (single is null) return (404, "404 page not found\n", []);
            var reason = single.Check();
            return reason is null ? (200, "ok", []) : (500, $"internal server error: {reason}\n", [$"{name}: {reason}"]);
        }
        var body = new StringBuilder();
        var failures = new List<string>();
        foreach (var check in Checks)
        {
            if (exclude?.Contains(check.Name) == true)
            {
                body.Append(CultureInfo.InvariantCulture, $"[+]{check.Name} excluded: ok\n");
                continue;
            }
            var reason = check.Check();
            if (reason is null) body.Append(CultureInfo.InvariantCulture, $"[+]{check.Name} ok\n");
            else
            {
                body.Append(CultureInfo.InvariantCulture, $"[-]{check.Name} failed: reason withheld\n");
                failures.Add($"{check.Name}: {reason}");
            }
        }
        if (failures.Count > 0) return (500, body + "healthz check failed\n", failures);
        return verbose ? (200, body + "healthz check passed\n", []) : (200, "ok", []);
    }
}
