using System.Net;
using k8s.Models;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.Core.Server;
using KubeletPS.Core.Stats;
using KubeletPS.Core.Tests.Support.Fakes;
using KubeletPS.TestCluster.Server;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Server;

/// <summary>
/// Malformed paths and queries from a client allowed everything (AlwaysAllow): traversal, encoded separators and NUL,
/// absurd numbers, another pod's container. Each gets kubelet's own status and message — never a 500 from an
/// unhandled exception, never another pod's data.
/// </summary>
public sealed class KubeletPortInputAttackTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string NotFoundPod = "pod does not exist";
    private TestApiServer _api = null!;
    private KubeletServerTestHost _host = null!;
    private HttpClient _admin = null!;
    private KubeletPS.TestCluster.Pki.IssuedCertificate _adminCertificate = null!;

    private static V1Pod Pod(string ns, string name, string uid, string container) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns, Uid = uid },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = container, Image = "busybox" }] },
        Status = new V1PodStatus
        {
            ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = container, ContainerID = $"containerd://{uid}-{container}", Image = "busybox", ImageID = "", Ready = true, RestartCount = 0,
                    State = new V1ContainerState { Running = new V1ContainerStateRunning() },
                },
            ],
        },
    };

    public async Task InitializeAsync()
    {
        _api = await TestApiServer.StartAsync();
        IReadOnlyList<V1Pod> pods = [Pod("default", "web", "uid-web", "main"), Pod("kube-system", "db", "uid-db", "secret")];
        // No runtime answers on this socket: a request that gets past the kubelet's own checks fails at the runtime, visibly.
        var runtime = new CriRuntimeClient("unix:///nonexistent/kubeletps-attack/containerd.sock", TimeSpan.FromSeconds(2));
        var stats = new CriStatsProvider(new CriStatsProviderOptions { NodeName = KubeletServerTestHost.NodeName, Runtime = new FakeRuntimeService() });
        _host = await KubeletServerTestHost.StartAsync(_api, o => o with { AuthorizationMode = "AlwaysAllow" },
            c => new KubeletServerContext { Options = c.Options, Client = c.Client, Identity = c.Identity, Runtime = runtime, Pods = () => pods, Stats = stats });
        _adminCertificate = _api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters");
        _admin = _host.Client(_adminCertificate);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _host.DisposeAsync();
        await _api.DisposeAsync();
    }

    private async Task<(int Status, string Body)> SendAsync(string method, string pathAndQuery)
    {
        // The path goes out as written: no client-side normalisation of dot segments or escapes.
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(_host.BaseUrl + pathAndQuery, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }));
        using var response = await _admin.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        output.WriteLine($"{method} {pathAndQuery}: {(int)response.StatusCode} {body.Trim()}");
        return ((int)response.StatusCode, body);
    }

    [Theory]
    [InlineData("/containerLogs/default/web/main?tailLines=-1", 422, "{\"message\": \"Invalid request.\"}")]
    [InlineData("/containerLogs/default/web/main?tailLines=abc", 400, "{\"message\": \"Unable to decode query.\"}")]
    [InlineData("/containerLogs/default/web/main?tailLines=99999999999999999999", 400, "{\"message\": \"Unable to decode query.\"}")]
    [InlineData("/containerLogs/default/web/main?limitBytes=0", 422, "{\"message\": \"Invalid request.\"}")]
    [InlineData("/containerLogs/default/web/main?limitBytes=-7", 422, "{\"message\": \"Invalid request.\"}")]
    [InlineData("/containerLogs/default/web/main?limitBytes=1e9", 400, "{\"message\": \"Unable to decode query.\"}")]
    [InlineData("/containerLogs/default/web/main?sinceSeconds=-1", 422, "{\"message\": \"Invalid request.\"}")]
    [InlineData("/containerLogs/default/web/main?sinceSeconds=9223372036854775808", 400, "{\"message\": \"Unable to decode query.\"}")]
    [InlineData("/containerLogs/default/web/main?sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", 422, "{\"message\": \"Invalid request.\"}")]
    [InlineData("/containerLogs/default/web/main?sinceTime=yesterday", 400, "{\"message\": \"Unable to decode query.\"}")]
    [InlineData("/containerLogs/default/web/secret", 404, "container \"secret\" not found in pod \"web\"")]
    [InlineData("/containerLogs/default/web%2F..%2F..%2Fkube-system%2Fdb/secret", 404, "pod \"web%2F..%2F..%2Fkube-system%2Fdb\" does not exist")]
    [InlineData("/containerLogs/default/web/..%2F..%2Fkube-system%2Fdb%2Fsecret", 404, "container \"..%2F..%2Fkube-system%2Fdb%2Fsecret\" not found in pod \"web\"")]
    [InlineData("/containerLogs/default/web", 400, "{\"message\": \"Missing container name.\"}")]
    [InlineData("/containerLogs/default", 400, "{\"message\": \"Missing podID.\"}")]
    public async Task Container_log_paths_and_queries_get_kubelets_answer(string pathAndQuery, int status, string body)
    {
        var (gotStatus, gotBody) = await SendAsync("GET", pathAndQuery);
        Assert.Equal((status, body), (gotStatus, gotBody));
    }

    [Theory]
    // Numbers kubelet accepts however large: the request gets past the checks to the runtime (which is not there).
    [InlineData("/containerLogs/default/web/main?tailLines=9999999999")]
    [InlineData("/containerLogs/default/web/main?sinceSeconds=9223372036854775807")]
    [InlineData("/containerLogs/default/web/main?limitBytes=9223372036854775807")]
    public async Task Huge_but_valid_log_options_are_accepted_without_overflowing(string pathAndQuery)
    {
        var (status, body) = await SendAsync("GET", pathAndQuery);
        Assert.Equal(400, status);
        Assert.StartsWith("failed to get container status uid-web-main", body.Replace("containerd://", ""));
    }

    [Theory]
    [InlineData("GET", "/exec/default/nope/main?command=ls&output=1", 404, NotFoundPod)]
    [InlineData("GET", "/exec/default/web%2F..%2F..%2Fkube-system%2Fdb/secret?command=ls&output=1", 404, NotFoundPod)]
    [InlineData("GET", "/exec/kube-system%2Fdb/x/secret?command=ls&output=1", 404, NotFoundPod)]
    [InlineData("GET", "/exec/default/web/main?command=ls", 400, "you must specify at least 1 of stdin, stdout, stderr")]
    [InlineData("GET", "/exec/default/web/uid-web/main/extra?command=ls&output=1", 404, "404 page not found")]
    [InlineData("GET", "/portForward/default/web/uid-db?port=80", 404, "pod not found")]
    [InlineData("GET", "/portForward/default/web?port=0", 400, "port \"0\" must be > 0")]
    [InlineData("GET", "/portForward/default/web?port=65536", 400, "unable to parse \"65536\" as a port: invalid syntax")]
    [InlineData("GET", "/portForward/default/web?port=-1", 400, "unable to parse \"-1\" as a port: invalid syntax")]
    [InlineData("GET", "/run/default/web/main?cmd=ls", 405, "405: Method Not Allowed")]
    [InlineData("POST", "/run/default/nope/main?cmd=ls", 404, NotFoundPod)]
    [InlineData("POST", "/pods", 405, "405: Method Not Allowed")]
    public async Task Streaming_and_pod_paths_get_kubelets_answer(string method, string pathAndQuery, int status, string body)
    {
        var (gotStatus, gotBody) = await SendAsync(method, pathAndQuery);
        Assert.Equal((status, body), (gotStatus, gotBody));
    }

    [Fact]
    public async Task An_encoded_NUL_in_a_path_is_refused_without_a_500()
    {
        foreach (var path in new[] { "/containerLogs/default/web/main%00", "/containerLogs/default%00/web/main", "/exec/default/web/main%00?command=ls&output=1", "/attach/default/web%00/main?output=1" })
        {
            var (status, _) = await SendAsync("GET", path);
            Assert.True(status is 400 or 404, $"{path}: {status}");
        }
    }

    [Fact]
    public async Task A_summary_form_with_oversized_values_gets_kubelets_parse_form_error()
    {
        // A value of 5 MiB: kubelet's ParseForm reads forms up to 10 MiB, whatever their values' sizes.
        using var big = new StringContent("only_cpu_and_memory=true&pad=" + new string('a', 5 << 20), System.Text.Encoding.ASCII, "application/x-www-form-urlencoded");
        var accepted = await _admin.PostAsync("/stats/summary", big);
        // More than 10 MiB: "http: POST too large", answered as kubelet's handleError does.
        // Sent by hand: the server answers, and closes, before the client is done sending, which HttpClient reports as a failure.
        await using var connection = await RawKubeletConnection.OpenAsync(_host, _adminCertificate);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var form = System.Text.Encoding.ASCII.GetBytes("only_cpu_and_memory=true&x=" + new string('a', 11 << 20));
        await connection.WriteAsync($"POST /stats/summary HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {form.Length}\r\n\r\n", cts.Token);
        var reader = connection.ReadUntilClosedAsync(cts.Token);
        try
        {
            await connection.Stream.WriteAsync(form, cts.Token);
        }
        catch (IOException)
        {
            // closed under the writer, after the answer
        }
        await reader;
        output.WriteLine($"5 MiB value: {(int)accepted.StatusCode}; 11 MiB form: {connection.Received}");

        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.StartsWith("HTTP/1.1 500 ", connection.Received);
        Assert.Contains("\r\nInternal Error: parse form failed: http: POST too large\r\n", connection.Received);
    }
}
