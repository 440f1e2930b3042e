using System.Text.Json.Nodes;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Api;

/// <summary>
/// An attack on the node by anyone who may create a pod: the API server takes <c>cpu: "1e99999999"</c> (apimachinery
/// keeps the exponent as a scale, and a pod with spec.nodeName set skips the scheduler), and KubernetesClient's parse
/// of that quantity builds 10^99999999, which held the agent's pod list or watch for good. Through the agent's own
/// client pipeline the pods arrive, the quantity as the largest value, and the same text in an env value unchanged.
/// </summary>
public sealed class QuantityExponentAttackTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private readonly CancellationTokenSource _stop = new();
    private readonly ListLog _log = new();

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync(new TestApiServerOptions { BookmarkInterval = TimeSpan.FromMilliseconds(200) });

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        await _server.DisposeAsync();
    }

    private void CreatePod(string name, string cpu) =>
        _server.Store.Create("pods", JsonNode.Parse(
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" + name + "\",\"namespace\":\"default\",\"annotations\":{\"note\":\"1e99999999\"}}," +
            "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"env\":[{\"name\":\"X\",\"value\":\"1e99999999\"}]," +
            "\"resources\":{\"requests\":{\"cpu\":\"" + cpu + "\"},\"limits\":{\"memory\":\"" + cpu + "\"}}}]}}")!.AsObject());

    [Fact]
    public async Task A_pod_with_a_huge_exponent_quantity_reaches_the_agent_by_list_and_by_watch_without_hanging_it()
    {
        CreatePod("listed", "1e99999999");
        CreatePod("fine", "100m");
        CreatePod("digits", "99999999999999999999999999999");
        var (client, identity) = TestApiClients.ForUser(_server, ApiClientFactory.Handlers(), "system:node:node-a", "system:nodes");
        var source = new ApiPodSource(client, identity, "node-a", _log);
        PodSourceSnapshot? latest = null;
        var run = Task.Run(async () =>
        {
            try
            {
                await foreach (var snapshot in source.WatchAsync(_stop.Token)) Volatile.Write(ref latest, snapshot);
            }
            catch (OperationCanceledException) { }
        });
        IReadOnlyList<string> Names() => Volatile.Read(ref latest)?.Pods.Select(p => p.Metadata.Name).Order(StringComparer.Ordinal).ToList() ?? [];

        await TestApiClients.WaitUntilAsync(() => Names().Count == 3, "the listed pods, one with cpu 1e99999999", timeoutSeconds: 60);
        CreatePod("watched", "-1e-99999999");
        await TestApiClients.WaitUntilAsync(() => Names().Count == 4, "the pod created while watching", timeoutSeconds: 60);

        Assert.Equal(["digits", "fine", "listed", "watched"], Names());
        // More digits than a decimal holds: KubernetesClient's ToString of it throws, so the agent's copies of the pod must not need it.

        var pods = Volatile.Read(ref latest)!.Pods.ToDictionary(p => p.Metadata.Name);
        var listed = pods["listed"].Spec.Containers[0];
        Assert.Equal(long.MaxValue, QuantityValues.Decimal(listed.Resources.Requests["cpu"]));
        Assert.Equal("1e99999999", listed.Env[0].Value);
        Assert.Equal("1e99999999", pods["listed"].Metadata.Annotations["note"]);
        Assert.Equal(0.1m, QuantityValues.Decimal(pods["fine"].Spec.Containers[0].Resources.Requests["cpu"]));
        _ = k8s.KubernetesJson.Serialize(pods["digits"]);
        Assert.Equal(long.MaxValue, QuantityValues.Decimal(pods["digits"].Spec.Containers[0].Resources.Requests["cpu"]));
        Assert.True(QuantityValues.Decimal(pods["watched"].Spec.Containers[0].Resources.Requests["cpu"]) <= 0);
        _stop.Cancel();
        await run;
    }
    /// <summary>
    /// A watch event whose pod status carries a negative quantity with an exponent (a status block anyone with
    /// pods/status rights can write): once read, serializing the pod (as the agent's copies do) never returned.
    /// Rewritten, it reads and serializes; a line with nothing to rewrite comes back byte for byte.
    /// </summary>
    [Theory]
    [InlineData("-1e3", "-1000")]
    [InlineData("-5e-1", "-0.5")]
    [InlineData("-1e99999999", "-9223372036854775807")]
    public async Task A_negative_exponent_quantity_in_a_watch_event_is_read_and_serialized(string quantity, string expected)
    {
        var line = "{\"type\":\"MODIFIED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
            + "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"args\":[\"" + quantity + "\"]}]},"
            + "\"status\":{\"containerStatuses\":[{\"name\":\"c\",\"allocatedResources\":{\"cpu\":\"" + quantity + "\"}}]}}}";
        var rewritten = System.Text.Encoding.UTF8.GetString(KubeletPS.Core.Api.QuantityExponentHandler.Rewrite(System.Text.Encoding.UTF8.GetBytes(line)));
        var work = Task.Run(() =>
        {
            var pod = k8s.KubernetesJson.Deserialize<k8s.Models.V1Pod>(JsonNode.Parse(rewritten)!["object"]!.ToJsonString());
            _ = k8s.KubernetesJson.Serialize(pod);
            return pod;
        });
        if (await Task.WhenAny(work, Task.Delay(TimeSpan.FromMinutes(1))) != work)
            throw new Xunit.Sdk.XunitException($"reading and serializing a pod with {quantity} in its status did not return");
        var read = await work;
        Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), QuantityValues.Decimal(read.Status.ContainerStatuses[0].AllocatedResources["cpu"]));
        Assert.Equal(quantity, read.Spec.Containers[0].Args[0]);

        var plain = "{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}, \"spec\":{}}}";
        Assert.Equal(plain, System.Text.Encoding.UTF8.GetString(KubeletPS.Core.Api.QuantityExponentHandler.Rewrite(System.Text.Encoding.UTF8.GetBytes(plain))));
    }
}
