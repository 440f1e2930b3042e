using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>A raw JSON client for the test API server: every response body is checked as the real server would send it.</summary>
internal sealed class ApiClient(HttpClient http) : IDisposable
{
    public static ApiClient Admin(TestApiServer server) =>
        new(server.CreateHttpClient(server.IssueClientCertificate("kubernetes-admin", "system:masters")));

    public static ApiClient Node(TestApiServer server, string node) =>
        new(server.CreateHttpClient(server.Pki.IssueNode(node)));

    public static ApiClient Anonymous(TestApiServer server) => new(server.CreateHttpClient());

    public static ApiClient WithCertificate(TestApiServer server, IssuedCertificate certificate) => new(server.CreateHttpClient(certificate));

    public HttpClient Http => http;

    public Task<Response> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<Response> PostAsync(string path, JsonObject body) => SendAsync(HttpMethod.Post, path, body.ToJsonString());

    public Task<Response> PutAsync(string path, JsonObject body) => SendAsync(HttpMethod.Put, path, body.ToJsonString());

    public Task<Response> DeleteAsync(string path, JsonObject? options = null) => SendAsync(HttpMethod.Delete, path, options?.ToJsonString());

    public Task<Response> PatchAsync(string path, string contentType, string patch) => SendAsync(HttpMethod.Patch, path, patch, contentType);

    public async Task<Response> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return new Response(response.StatusCode, text, response.Content.Headers.ContentType?.MediaType, response.Headers.RetryAfter?.Delta);
    }

    public void Dispose() => http.Dispose();

    public sealed record Response(HttpStatusCode Status, string Body, string? ContentType, TimeSpan? RetryAfter)
    {
        public JsonObject Json => JsonNode.Parse(Body) as JsonObject ?? throw new InvalidOperationException($"not a JSON object: {Body}");

        public string? this[string path]
        {
            get
            {
                JsonNode? node = Json;
                foreach (var part in path.Split('.')) node = node is JsonArray a && int.TryParse(part, out var i) ? a[i] : node?[part];
                return node is JsonValue v ? v.ToString() : node?.ToJsonString();
            }
        }

        public Response Expect(HttpStatusCode status)
        {
            Assert.True(status == Status, $"expected {(int)status} but got {(int)Status}: {Body}");
            return this;
        }
    }
}

internal static class TestObjects
{
    public static JsonObject Pod(string name, string? nodeName = null, string ns = "default", JsonObject? labels = null)
    {
        var spec = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "busybox:1.36" }) };
        if (nodeName is not null) spec["nodeName"] = nodeName;
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = labels ?? new JsonObject() },
            ["spec"] = spec,
        };
    }

    public static JsonObject Node(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Node",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["kubernetes.io/hostname"] = name } },
        ["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(
                new JsonObject { ["type"] = "MemoryPressure", ["status"] = "False", ["reason"] = "KubeletHasSufficientMemory" },
                new JsonObject { ["type"] = "Ready", ["status"] = "False", ["reason"] = "KubeletNotReady" }),
            ["addresses"] = new JsonArray(
                new JsonObject { ["type"] = "InternalIP", ["address"] = "10.0.0.1" },
                new JsonObject { ["type"] = "Hostname", ["address"] = name }),
        },
    };

    public static JsonObject Lease(string name, string holder) => new()
    {
        ["apiVersion"] = "coordination.k8s.io/v1",
        ["kind"] = "Lease",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "kube-node-lease" },
        ["spec"] = new JsonObject { ["holderIdentity"] = holder, ["leaseDurationSeconds"] = 40 },
    };

    /// <summary>One server CA for the whole suite: generating RSA keys is the slow part of starting a server.</summary>
    public static ClusterPki SharedPki { get; } = new();

    public static Task<TestApiServer> StartServerAsync(TestApiServerOptions? options = null) =>
        TestApiServer.StartAsync(options is null
            ? new TestApiServerOptions { Pki = SharedPki, BookmarkInterval = TimeSpan.FromMilliseconds(200) }
            : options);
}
