using System.Net;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>
/// Attacks with a node's client certificate on the objects the Node authorizer guards (node_authorizer.go): a node
/// reads a secret, configmap, claim or service account token only when a pod bound to it references it, and lists or
/// watches secrets and configmaps only by the name of one (fieldSelector metadata.name=NAME), never a whole namespace.
/// </summary>
public sealed class NodeObjectAuthorizationTests : IAsyncLifetime
{
    private const string Forbidding = "no relationship found between node 'worker-1' and this object";
    private TestApiServer _server = null!;
    private ApiClient _node = null!;

    public async Task InitializeAsync()
    {
        _server = await TestObjects.StartServerAsync();
        foreach (var name in new[] { "mine", "theirs", "unused", "env-only" })
        {
            _server.Store.Create("secrets", Named(name, new JsonObject { ["data"] = new JsonObject { ["k"] = "dg==" } }));
            _server.Store.Create("configmaps", Named(name, new JsonObject { ["data"] = new JsonObject { ["k"] = "v" } }));
        }
        _server.Store.Create("pods", PodUsing("a", "worker-1", "mine", "app"));
        _server.Store.Create("pods", PodUsing("b", "worker-2", "theirs", "other"));
        _node = ApiClient.Node(_server, "worker-1");
    }

    public async Task DisposeAsync()
    {
        _node.Dispose();
        await _server.DisposeAsync();
    }

    private static JsonObject Named(string name, JsonObject body)
    {
        body["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" };
        return body;
    }

    /// <summary>A pod on <paramref name="node"/> with a secret and a configmap volume named <paramref name="objects"/>, env from "env-only", and its own service account.</summary>
    private static JsonObject PodUsing(string name, string node, string objects, string serviceAccount) => JsonNode.Parse("""
        {"metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","serviceAccountName":"ACCOUNT",
           "volumes":[{"name":"s","secret":{"secretName":"OBJECTS"}},{"name":"c","configMap":{"name":"OBJECTS"}},
                      {"name":"data","persistentVolumeClaim":{"claimName":"OBJECTS-claim"}}],
           "containers":[{"name":"c","image":"busybox","env":[{"name":"E","valueFrom":{"configMapKeyRef":{"name":"ENV","key":"k"}}}]}]}}
        """.Replace("NAME", name).Replace("NODE", node).Replace("ACCOUNT", serviceAccount).Replace("OBJECTS", objects)
        .Replace("ENV", node == "worker-1" ? "env-only" : "x"))!.AsObject();

    [Fact]
    public async Task A_node_cannot_list_or_watch_the_secrets_of_a_namespace()
    {
        var list = (await _node.GetAsync("/api/v1/namespaces/default/secrets")).Expect(HttpStatusCode.Forbidden);
        var all = (await _node.GetAsync("/api/v1/secrets")).Expect(HttpStatusCode.Forbidden);
        var watch = (await _node.GetAsync("/api/v1/namespaces/default/secrets?watch=true")).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("secrets is forbidden: User \"system:node:worker-1\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\": No Object name found", list["message"]);
        Assert.EndsWith("can only read namespaced object of this type", all["message"]);
        Assert.EndsWith("No Object name found", watch["message"]);
    }

    [Fact]
    public async Task A_node_lists_and_watches_a_secret_of_its_own_pod_by_name_only()
    {
        var mine = (await _node.GetAsync("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dmine")).Expect(HttpStatusCode.OK);
        var theirs = (await _node.GetAsync("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dtheirs")).Expect(HttpStatusCode.Forbidden);
        // A selector that names one object but matches others too is still one name: the list holds only that one.
        var widened = (await _node.GetAsync("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dmine,type!%3Dx")).Expect(HttpStatusCode.OK);
        var notEqual = (await _node.GetAsync("/api/v1/namespaces/default/secrets?fieldSelector=metadata.name!%3Dmine")).Expect(HttpStatusCode.Forbidden);
        using var watch = await _node.Http.GetAsync("/api/v1/namespaces/default/secrets?watch=true&fieldSelector=metadata.name%3Dmine", HttpCompletionOption.ResponseHeadersRead);
        using var watchTheirs = await _node.Http.GetAsync("/api/v1/namespaces/default/secrets?watch=true&fieldSelector=metadata.name%3Dtheirs", HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(["mine"], mine.Json["items"]!.AsArray().Select(i => (string)i!["metadata"]!["name"]!));
        Assert.Equal(["mine"], widened.Json["items"]!.AsArray().Select(i => (string)i!["metadata"]!["name"]!));
        Assert.EndsWith(Forbidding, theirs["message"]);
        Assert.EndsWith("No Object name found", notEqual["message"]);
        Assert.Equal(HttpStatusCode.OK, watch.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, watchTheirs.StatusCode);
    }

    [Fact]
    public async Task A_node_gets_only_the_configmaps_its_pods_reference()
    {
        (await _node.GetAsync("/api/v1/namespaces/default/configmaps/mine")).Expect(HttpStatusCode.OK);
        (await _node.GetAsync("/api/v1/namespaces/default/configmaps/env-only")).Expect(HttpStatusCode.OK);
        var unused = (await _node.GetAsync("/api/v1/namespaces/default/configmaps/unused")).Expect(HttpStatusCode.Forbidden);
        var theirs = (await _node.GetAsync("/api/v1/namespaces/default/configmaps/theirs")).Expect(HttpStatusCode.Forbidden);
        var list = (await _node.GetAsync("/api/v1/namespaces/default/configmaps")).Expect(HttpStatusCode.Forbidden);
        var watch = (await _node.GetAsync("/api/v1/watch/namespaces/default/configmaps")).Expect(HttpStatusCode.Forbidden);
        var update = (await _node.PutAsync("/api/v1/namespaces/default/configmaps/mine", Named("mine", new JsonObject()))).Expect(HttpStatusCode.Forbidden);

        Assert.Equal($"configmaps \"unused\" is forbidden: User \"system:node:worker-1\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\": {Forbidding}", unused["message"]);
        Assert.EndsWith(Forbidding, theirs["message"]);
        Assert.EndsWith("No Object name found", list["message"]);
        Assert.EndsWith("No Object name found", watch["message"]);
        Assert.EndsWith("can only read resources of this type", update["message"]);
    }

    [Fact]
    public async Task A_node_gets_only_its_pods_claims_and_requests_tokens_only_for_their_service_accounts()
    {
        var claim = await _node.GetAsync("/api/v1/namespaces/default/persistentvolumeclaims/mine-claim");
        var otherClaim = (await _node.GetAsync("/api/v1/namespaces/default/persistentvolumeclaims/theirs-claim")).Expect(HttpStatusCode.Forbidden);
        var claims = (await _node.GetAsync("/api/v1/namespaces/default/persistentvolumeclaims")).Expect(HttpStatusCode.Forbidden);
        var volume = (await _node.GetAsync("/api/v1/persistentvolumes/pv-1")).Expect(HttpStatusCode.Forbidden);
        var request = new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenRequest", ["spec"] = new JsonObject { ["audiences"] = new JsonArray() } };
        var token = await _node.PostAsync("/api/v1/namespaces/default/serviceaccounts/app/token", request);
        var otherToken = (await _node.PostAsync("/api/v1/namespaces/default/serviceaccounts/other/token", request)).Expect(HttpStatusCode.Forbidden);

        Assert.NotEqual(HttpStatusCode.Forbidden, claim.Status);
        Assert.EndsWith(Forbidding, otherClaim["message"]);
        Assert.EndsWith("can only get individual resources of this type", claims["message"]);
        Assert.EndsWith(Forbidding, volume["message"]);
        Assert.NotEqual(HttpStatusCode.Forbidden, token.Status);
        Assert.EndsWith(Forbidding, otherToken["message"]);
    }
}
