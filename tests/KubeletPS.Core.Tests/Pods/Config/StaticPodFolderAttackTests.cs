using System.Diagnostics;
using System.Text;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Config;

/// <summary>
/// Attacks on the static pod folder with files that are not manifests: a FIFO named like one (open(2) waits for a
/// writer forever), links to devices (/dev/zero never ends) and to host files holding secrets, duplicate keys and
/// invalid UTF-8. Kubelet's file source reads only regular files (os.Stat follows links; anything else is "not a
/// directory or file") and one bad file never holds up the others.
/// </summary>
public sealed class StaticPodFolderAttackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-static-attack-").FullName;
    private readonly string _host = Directory.CreateTempSubdirectory("kubeletps-static-host-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Directory.Delete(_host, recursive: true);
    }

    private const string Web = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
        spec:
          containers:
          - name: app
            image: kubeletps.local/busybox:latest
        """;

    private StaticPodSource Source() => new(_dir, "node-a", TimeSpan.FromSeconds(20));

    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { RedirectStandardError = true })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>Reads the folder on another thread; a read that has not returned after a minute has hung (then the FIFO is opened for writing to free it).</summary>
    private async Task<PodSourceSnapshot> ReadWithHangGuard(string? fifo = null)
    {
        var read = Task.Run(() => Source().Read());
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1))) != read)
        {
            if (fifo is not null) await using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
            throw new Xunit.Sdk.XunitException("reading the static pod folder blocked: the FIFO's open waited for a writer");
        }
        return await read;
    }

    [Fact]
    public async Task A_fifo_named_like_a_manifest_is_skipped_without_blocking_and_the_other_pods_run()
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        var fifo = Path.Combine(_dir, "x.yaml");
        MakeFifo(fifo);
        var snapshot = await ReadWithHangGuard(fifo);
        Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
        var error = Assert.Single(snapshot.Errors);
        Assert.Equal(fifo, error.Path);
        Assert.Contains("not a regular file but a FIFO", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/null")]
    [InlineData("/dev/urandom")]
    public async Task A_link_to_a_device_is_skipped_as_not_a_regular_file(string device)
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        var link = Path.Combine(_dir, "device.yaml");
        File.CreateSymbolicLink(link, device);
        var snapshot = await ReadWithHangGuard();
        Assert.Single(snapshot.Pods);
        var error = Assert.Single(snapshot.Errors);
        Assert.Equal(link, error.Path);
        Assert.Contains("not a regular file but a character device", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_link_to_a_host_file_is_read_as_kubelet_reads_it_but_no_error_repeats_its_content()
    {
        // Kubelet follows links in the folder (os.Stat); what it reports of a file that is not a pod must not leak it.
        const string Secret = "s3cr3t-0d9f8e7a";
        var shadow = Path.Combine(_host, "shadow");
        File.WriteAllText(shadow, $"root:$6${Secret}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n");
        var token = Path.Combine(_host, "token.conf");
        File.WriteAllText(token, $"token: {Secret}\nclient-key-data: {Secret}\n");
        var json = Path.Combine(_host, "key.json");
        File.WriteAllText(json, "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"" + Secret + "\", \"labels\": {\"a\": {\"" + Secret + "\": 1}}}}");
        File.CreateSymbolicLink(Path.Combine(_dir, "shadow.yaml"), shadow);
        File.CreateSymbolicLink(Path.Combine(_dir, "token.yaml"), token);
        File.CreateSymbolicLink(Path.Combine(_dir, "key.json"), json);
        var snapshot = await ReadWithHangGuard();
        Assert.Empty(snapshot.Pods);
        Assert.Equal(3, snapshot.Errors.Count);
        foreach (var error in snapshot.Errors) Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Duplicate_keys_and_invalid_utf8_are_reported_for_their_file_and_the_other_pods_run()
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        File.WriteAllText(Path.Combine(_dir, "duplicate.yaml"), Web.Replace("metadata:\n  name: web", "metadata:\n  name: one\nmetadata:\n  name: two", StringComparison.Ordinal));
        var utf8 = Encoding.UTF8.GetBytes(Web.Replace("name: web", "name: web2\n  labels:\n    app: \u0001", StringComparison.Ordinal)).ToList();
        utf8.InsertRange(utf8.IndexOf(0x01), [0xC3, 0x28, 0xFF]);
        File.WriteAllBytes(Path.Combine(_dir, "utf8.yaml"), [.. utf8.Where(b => b != 0x01)]);
        var snapshot = await ReadWithHangGuard();
        Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
        Assert.Equal(["duplicate.yaml", "utf8.yaml"], snapshot.Errors.Select(e => Path.GetFileName(e.Path!)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_manifest_with_quantities_beyond_int64_is_read_without_hanging()
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        var limits = Web + "\n    resources:\n      limits: {cpu: \"-1e1000\", memory: \"1e1000\"}\n";
        File.WriteAllText(Path.Combine(_dir, "huge.yaml"), limits.Replace("name: web", "name: huge", StringComparison.Ordinal));
        var snapshot = await ReadWithHangGuard();
        Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
        Assert.Contains("must be greater than or equal to 0", Assert.Single(snapshot.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1e1000")]
    [InlineData("-1e1000")]
    public async Task A_manifest_with_quantities_beyond_int64_in_its_volumes_is_read_and_serialized_without_hanging(string huge)
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        var volumes = Web.Replace("name: web", "name: huge", StringComparison.Ordinal)
            + "\n    volumeMounts: [{name: scratch, mountPath: /s}, {name: info, mountPath: /i}]"
            + $"\n  volumes:\n  - name: scratch\n    emptyDir: {{sizeLimit: \"{huge}\"}}"
            + $"\n  - name: info\n    downwardAPI:\n      items:\n      - path: cpu\n        resourceFieldRef: {{containerName: app, resource: limits.cpu, divisor: \"{huge}\"}}\n";
        File.WriteAllText(Path.Combine(_dir, "huge.yaml"), volumes);
        // The folder read, then what the agent does with each pod next (its semantic key and copies serialize it).
        var read = Task.Run(() =>
        {
            var snapshot = Source().Read();
            foreach (var pod in snapshot.Pods) _ = k8s.KubernetesJson.Serialize(pod);
            return snapshot;
        });
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1))) != read)
            throw new Xunit.Sdk.XunitException($"reading or serializing a pod with the volume quantity {huge} did not return");
        var snapshot = await read;
        Assert.Contains(snapshot.Pods, p => p.Metadata.Name == "web-node-a");
        if (huge.StartsWith('-'))
        {
            // Capped, then refused as the API server refuses a negative sizeLimit.
            Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
            Assert.Contains("spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity", Assert.Single(snapshot.Errors).Message, StringComparison.Ordinal);
        }
        else
        {
            // The sizeLimit is kept as written; the divisor is refused, as the API server takes only 1m and 1 for cpu.
            Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
            var message = Assert.Single(snapshot.Errors).Message;
            Assert.Contains("spec.volumes[1].downwardAPI.resourceFieldRef.divisor: Invalid value: \"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu resource", message, StringComparison.Ordinal);
            Assert.DoesNotContain("sizeLimit", message, StringComparison.Ordinal);
        }
    }
    /// <summary>
    /// A negative quantity written with an exponent: KubernetesClient's ToString of any such quantity (-1e3, -5e-1,
    /// -1e-9) never returns, and the read serializes the pod before it validates it. Each is refused, its value shown
    /// with an SI suffix (the API server would print -1e3 as written), and the other pod runs.
    /// </summary>
    [Theory]
    [InlineData("    resources:\n      limits: {memory: \"-1e3\"}", "spec.containers[0].resources.limits[memory]: Invalid value: \"-1k\": must be greater than or equal to 0")]
    [InlineData("    resources:\n      requests: {cpu: \"-5e-1\"}", "spec.containers[0].resources.requests[cpu]: Invalid value: \"-500m\": must be greater than or equal to 0")]
    [InlineData("    resources:\n      requests: {cpu: \"-1e-1000\"}", "spec.containers[0].resources.requests[cpu]: Invalid value: \"-1n\": must be greater than or equal to 0")]
    [InlineData("    volumeMounts: [{name: scratch, mountPath: /s}]\n  volumes:\n  - name: scratch\n    emptyDir: {sizeLimit: \"-1e0\"}",
        "spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity")]
    [InlineData("    volumeMounts: [{name: info, mountPath: /i}]\n  volumes:\n  - name: info\n    downwardAPI:\n      items:\n      - path: cpu\n        resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: \"-1e-9\"}",
        "spec.volumes[0].downwardAPI.resourceFieldRef.divisor: Invalid value: \"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu resource")]
    [InlineData("    env:\n    - name: MEM\n      valueFrom:\n        resourceFieldRef: {resource: requests.memory, divisor: \"-1e3\"}",
        "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: \"requests.memory\": only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource")]
    public async Task A_negative_quantity_with_an_exponent_is_refused_without_hanging(string yaml, string error)
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        File.WriteAllText(Path.Combine(_dir, "bad.yaml"), Web.Replace("name: web", "name: bad", StringComparison.Ordinal) + "\n" + yaml + "\n");
        var read = Task.Run(() => Source().Read());
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1))) != read)
            throw new Xunit.Sdk.XunitException("reading a pod with a negative exponent quantity did not return");
        var snapshot = await read;
        Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
        var message = Assert.Single(snapshot.Errors).Message;
        Assert.Contains(error, message, StringComparison.Ordinal);
    }
    /// <summary>
    /// A status block is read with the manifest (kubelet decodes the whole pod and then writes its own status), so
    /// its quantities are an attack too: a negative exponent one in a container status's allocatedResources or
    /// resources held the read for good. The pod runs; its status from the file plays no part.
    /// </summary>
    [Fact]
    public async Task Quantities_in_a_manifests_status_block_do_not_hang_the_read()
    {
        var withStatus = Web + "\nstatus:\n  containerStatuses:\n  - name: app\n    image: x\n    imageID: \"\"\n    ready: false\n    restartCount: 0"
            + "\n    allocatedResources: {cpu: \"-1e3\"}\n    resources:\n      limits: {memory: \"-5e-1\"}\n";
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), withStatus);
        var read = Task.Run(() =>
        {
            var snapshot = Source().Read();
            foreach (var pod in snapshot.Pods) _ = k8s.KubernetesJson.Serialize(pod);
            return snapshot;
        });
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1))) != read)
            throw new Xunit.Sdk.XunitException("reading a pod with quantities in its status did not return");
        var snapshot = await read;
        Assert.Empty(snapshot.Errors);
        Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
    }
    /// <summary>
    /// An exponent so large that KubernetesClient's parse of the quantity runs for minutes (<c>1e99999999</c> builds
    /// 10^99999999): the read takes it as the largest value, as it takes <c>1e1000</c>, and one as small as
    /// <c>1e-99999999</c> as the smallest; the same text elsewhere (an env value) is kept as written.
    /// </summary>
    [Theory]
    [InlineData("\"1e99999999\"")]
    [InlineData("\"-1e99999999\"")]
    [InlineData("\"1e-99999999\"")]
    [InlineData("\"1E+000000000000000000000000099999999\"")]
    public async Task A_quantity_with_a_huge_exponent_is_read_without_hanging(string quantity)
    {
        var pod = Web.Replace("name: web", "name: huge", StringComparison.Ordinal)
            + $"\n    env: [{{name: X, value: \"1e99999999\"}}]\n    resources:\n      requests: {{cpu: {quantity}}}\n";
        File.WriteAllText(Path.Combine(_dir, "huge.yaml"), pod);
        var read = Task.Run(() =>
        {
            var snapshot = Source().Read();
            foreach (var p in snapshot.Pods) _ = k8s.KubernetesJson.Serialize(p);
            return snapshot;
        });
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1))) != read)
            throw new Xunit.Sdk.XunitException($"reading a pod with the quantity {quantity} did not return");
        var snapshot = await read;
        if (quantity.StartsWith("\"-", StringComparison.Ordinal))
        {
            Assert.Contains("must be greater than or equal to 0", Assert.Single(snapshot.Errors).Message, StringComparison.Ordinal);
            return;
        }
        Assert.Empty(snapshot.Errors);
        var container = Assert.Single(snapshot.Pods).Spec.Containers[0];
        Assert.Equal("1e99999999", container.Env[0].Value);
        var cpu = KubeletPS.Core.Cm.QuantityValues.Decimal(container.Resources.Requests["cpu"]);
        // As 1e1000 and 1e-1000 count: the largest value, and 0 (KubernetesClient's value of a quantity below 1n).
        Assert.Equal(quantity.Contains("e-", StringComparison.Ordinal) ? 0m : long.MaxValue, cpu);
    }
}
