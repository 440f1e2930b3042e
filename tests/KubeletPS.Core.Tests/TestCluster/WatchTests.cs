using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class WatchTests
{
    private const string Pods = "/api/v1/namespaces/default/pods";

    /// <summary>Reads watch events line by line from a streaming response.</summary>
    private sealed class WatchStream(HttpResponseMessage response, StreamReader reader) : IDisposable
    {
        public HttpResponseMessage Response => response;

        public static async Task<WatchStream> OpenAsync(HttpClient http, string path)
        {
            var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return new WatchStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
        }

        public async Task<(string Type, JsonObject Object)> NextAsync(TimeSpan? timeout = null)
        {
            var line = await reader.ReadLineAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(5));
            Assert.NotNull(line);
            var e = JsonNode.Parse(line)!.AsObject();
            return (e["type"]!.GetValue<string>(), e["object"]!.AsObject());
        }

        /// <summary>The next event that is not a BOOKMARK.</summary>
        public async Task<(string Type, JsonObject Object)> NextChangeAsync()
        {
            while (true)
            {
                var e = await NextAsync();
                if (e.Type != "BOOKMARK") return e;
            }
        }

        public Task<string?> ReadToEndLineAsync(TimeSpan timeout) => reader.ReadLineAsync().WaitAsync(timeout);

        public void Dispose()
        {
            reader.Dispose();
            response.Dispose();
        }
    }

    private static string Name(JsonObject o) => o["metadata"]!["name"]!.GetValue<string>();

    [Fact]
    public async Task Watch_from_zero_lists_current_objects_then_streams_changes()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("existing"));
        using var admin = ApiClient.Admin(server);
        using var watch = await WatchStream.OpenAsync(admin.Http, $"{Pods}?watch=true&resourceVersion=0");

        var initial = await watch.NextAsync();
        server.Store.Create("pods", TestObjects.Pod("new"));
        var added = await watch.NextAsync();
        server.Store.Update("pods", "default", "new", p => p["metadata"]!["labels"] = new JsonObject { ["x"] = "y" });
        var modified = await watch.NextAsync();
        server.Store.Delete("pods", "default", "new");
        var deleted = await watch.NextAsync();

        Assert.Equal(("ADDED", "existing"), (initial.Type, Name(initial.Object)));
        Assert.Equal(("ADDED", "new"), (added.Type, Name(added.Object)));
        Assert.Equal("Pod", added.Object["kind"]!.GetValue<string>());
        Assert.Equal(("MODIFIED", "y"), (modified.Type, modified.Object["metadata"]!["labels"]!["x"]!.GetValue<string>()));
        Assert.Equal(("DELETED", "new"), (deleted.Type, Name(deleted.Object)));
        Assert.True(long.Parse(deleted.Object["metadata"]!["resourceVersion"]!.GetValue<string>()) > long.Parse(modified.Object["metadata"]!["resourceVersion"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Watch_resumes_from_resource_version()
    {
        await using var server = await TestObjects.StartServerAsync();
        var a = server.Store.Create("pods", TestObjects.Pod("a"));
        server.Store.Create("pods", TestObjects.Pod("b"));
        server.Store.Update("pods", "default", "a", p => p["metadata"]!["labels"] = new JsonObject { ["v"] = "2" });
        using var admin = ApiClient.Admin(server);

        using var watch = await WatchStream.OpenAsync(admin.Http, $"{Pods}?watch=1&resourceVersion={a["metadata"]!["resourceVersion"]}");

        var first = await watch.NextAsync();
        var second = await watch.NextAsync();
        Assert.Equal(("ADDED", "b"), (first.Type, Name(first.Object)));
        Assert.Equal(("MODIFIED", "a"), (second.Type, Name(second.Object)));
    }

    [Fact]
    public async Task Too_old_resource_version_gets_expired_error_event()
    {
        await using var server = await TestObjects.StartServerAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, WatchCacheSize = 5 });
        var first = server.Store.Create("pods", TestObjects.Pod("p0"));
        for (var i = 1; i < 10; i++) server.Store.Create("pods", TestObjects.Pod($"p{i}"));
        using var admin = ApiClient.Admin(server);

        using var watch = await WatchStream.OpenAsync(admin.Http, $"{Pods}?watch=true&resourceVersion={first["metadata"]!["resourceVersion"]}");
        var error = await watch.NextAsync();

        Assert.Equal("ERROR", error.Type);
        Assert.Equal("Status", error.Object["kind"]!.GetValue<string>());
        Assert.Equal(410, error.Object["code"]!.GetValue<int>());
        Assert.Equal("Expired", error.Object["reason"]!.GetValue<string>());
        Assert.StartsWith($"too old resource version: {first["metadata"]!["resourceVersion"]} (", error.Object["message"]!.GetValue<string>());
        Assert.Null(await watch.ReadToEndLineAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Bookmarks_carry_current_resource_version()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        var rv = server.Store.ResourceVersion;

        using var watch = await WatchStream.OpenAsync(admin.Http, $"{Pods}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}");
        server.Store.Create("pods", TestObjects.Pod("p"));
        var added = await watch.NextAsync();
        var bookmark = await watch.NextAsync();

        Assert.Equal("ADDED", added.Type);
        Assert.Equal("BOOKMARK", bookmark.Type);
        Assert.Equal("Pod", bookmark.Object["kind"]!.GetValue<string>());
        Assert.Equal(server.Store.ResourceVersion.ToString(), bookmark.Object["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Null(bookmark.Object["spec"]);
    }

    [Fact]
    public async Task No_bookmarks_unless_allowed()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        using var watch = await WatchStream.OpenAsync(admin.Http, $"{Pods}?watch=true&resourceVersion={server.Store.ResourceVersion}&timeoutSeconds=1");

        // The stream ends after timeoutSeconds without any event although bookmarks are due every 200 ms.
        Assert.Null(await watch.ReadToEndLineAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Field_selector_on_node_name_filters_pod_watch()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "n1");

        using var watch = await WatchStream.OpenAsync(node.Http, $"/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dn1&resourceVersion={server.Store.ResourceVersion}");
        server.Store.Create("pods", TestObjects.Pod("other", "n2"));
        server.Store.Create("pods", TestObjects.Pod("mine", "n1", ns: "kube-system"));
        var e = await watch.NextAsync();

        Assert.Equal(("ADDED", "mine"), (e.Type, Name(e.Object)));
    }

    [Fact]
    public async Task Object_that_stops_matching_is_sent_as_deleted()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("web", labels: new JsonObject { ["app"] = "web" }));
        using var admin = ApiClient.Admin(server);

        using var watch = await WatchStream.OpenAsync(admin.Http, $"{Pods}?watch=true&labelSelector=app%3Dweb&resourceVersion={server.Store.ResourceVersion}");
        server.Store.Update("pods", "default", "web", p => p["metadata"]!["labels"]!["app"] = "api");
        var gone = await watch.NextAsync();
        server.Store.Update("pods", "default", "web", p => p["metadata"]!["labels"]!["app"] = "web");
        var back = await watch.NextAsync();

        Assert.Equal(("DELETED", "web"), (gone.Type, gone.Object["metadata"]!["labels"]!["app"]!.GetValue<string>()));
        Assert.Equal(("ADDED", "web"), (back.Type, back.Object["metadata"]!["labels"]!["app"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Legacy_watch_path_streams_events()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        using var watch = await WatchStream.OpenAsync(admin.Http, $"/api/v1/watch/namespaces/default/pods?resourceVersion={server.Store.ResourceVersion}");
        server.Store.Create("pods", TestObjects.Pod("p"));

        Assert.Equal("ADDED", (await watch.NextAsync()).Type);
    }

    [Fact]
    public async Task KubernetesClient_watch_receives_events()
    {
        await using var server = await TestObjects.StartServerAsync();
        var dir = Directory.CreateTempSubdirectory("kubeletps-watch-");
        try
        {
            var path = Path.Combine(dir.FullName, "node.conf");
            server.WriteNodeKubeconfig(path, "n1");
            server.Store.Create("pods", TestObjects.Pod("before", "n1"));
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(path));

            var list = await client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: "spec.nodeName=n1");
            Assert.Equal("before", Assert.Single(list.Items).Metadata.Name);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var response = client.CoreV1.ListNamespacedPodWithHttpMessagesAsync("default", watch: true,
                resourceVersion: list.Metadata.ResourceVersion, fieldSelector: "spec.nodeName=n1", allowWatchBookmarks: true, cancellationToken: cts.Token);
            var seen = System.Threading.Channels.Channel.CreateUnbounded<(WatchEventType, string)>();
            // The older callback API over ListNamespacedPodWithHttpMessagesAsync(watch: true), still widely used.
#pragma warning disable CS0618
            using var watcher = response.Watch<V1Pod, V1PodList>(
                (type, pod) => seen.Writer.TryWrite((type, pod.Metadata.Name)),
                onError: e => seen.Writer.TryComplete(e));
#pragma warning restore CS0618
            await Task.Delay(300);
            server.Store.Create("pods", TestObjects.Pod("after", "n1"));
            server.Store.Create("pods", TestObjects.Pod("elsewhere", "n2"));
            server.Store.Update("pods", "default", "after", p => p["status"]!["phase"] = "Running");
            var received = new List<(WatchEventType, string)>();
            while (received.Count < 2)
            {
                var e = await seen.Reader.ReadAsync(cts.Token);
                if (e.Item1 != WatchEventType.Bookmark) received.Add(e);
            }

            // The newer IAsyncEnumerable API resumes from the same list.
            await foreach (var (type, pod) in client.CoreV1.WatchListNamespacedPodAsync("default", resourceVersion: list.Metadata.ResourceVersion,
                fieldSelector: "spec.nodeName=n1", cancellationToken: cts.Token))
            {
                Assert.Equal((WatchEventType.Added, "after"), (type, pod.Metadata.Name));
                break;
            }

            Assert.Equal([(WatchEventType.Added, "after"), (WatchEventType.Modified, "after")], received);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
