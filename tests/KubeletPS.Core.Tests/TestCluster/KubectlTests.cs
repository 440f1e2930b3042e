using System.Text.Json.Nodes;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>kubectl 1.32 against the test API server: discovery, tables, create, get -o json, delete.</summary>
public sealed class KubectlTests : IAsyncLifetime, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kubeletps-kubectl-");
    private KubeletPS.TestCluster.Server.TestApiServer? _server;

    private KubeletPS.TestCluster.Server.TestApiServer Server => _server!;

    private string AdminConf => Path.Combine(_dir.FullName, "admin.conf");

    public async Task InitializeAsync()
    {
        _server = await TestObjects.StartServerAsync();
        Server.WriteAdminKubeconfig(AdminConf);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    public void Dispose() => _dir.Delete(true);

    /// <summary>kubectl's output; its own HOME and discovery cache, so that discovery from another test's server is never reused.</summary>
    private async Task<string> RunKubectlAsync(string kubeconfig, string stdin, string[] args)
    {
        var result = await new TestKubectl(kubeconfig, _dir.FullName).RunAsync(args, stdin, 30);
        Assert.True(result.ExitCode == 0, $"kubectl {string.Join(' ', args)} exited {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }

    private Task<string> KubectlAsync(params string[] args) => RunKubectlAsync(AdminConf, "", args);

    [Fact]
    public async Task Get_raw_api()
    {
        var output = await KubectlAsync("get", "--raw", "/api");

        Assert.Equal("APIVersions", JsonNode.Parse(output)!["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_nodes_as_json_and_table()
    {
        Server.Store.Create("nodes", TestObjects.Node("worker-1"));

        var json = JsonNode.Parse(await KubectlAsync("get", "nodes", "-o", "json"))!;
        var table = await KubectlAsync("get", "nodes");
        var one = JsonNode.Parse(await KubectlAsync("get", "node", "worker-1", "-o", "json"))!;

        Assert.Equal("worker-1", json["items"]![0]!["metadata"]!["name"]!.GetValue<string>());
        Assert.Matches(@"NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION", table);
        Assert.Matches(@"worker-1\s+NotReady", table);
        Assert.Equal("Node", one["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_get_and_delete_pod()
    {
        const string manifest = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web
              labels: {app: web}
            spec:
              nodeName: worker-1
              containers:
              - name: c
                image: nginx:1.27
            """;

        var created = await RunKubectlAsync(AdminConf, manifest, ["create", "-f", "-"]);
        var pod = JsonNode.Parse(await KubectlAsync("get", "pod", "web", "-o", "json"))!;
        var all = await KubectlAsync("get", "pods", "-A");
        await KubectlAsync("delete", "pod", "web", "--wait=false");
        var terminating = JsonNode.Parse(await KubectlAsync("get", "pod", "web", "-o", "json"))!;
        await KubectlAsync("delete", "pod", "web", "--grace-period=0", "--force");

        Assert.Contains("pod/web created", created);
        Assert.Equal("Pending", pod["status"]!["phase"]!.GetValue<string>());
        Assert.Equal("IfNotPresent", pod["spec"]!["containers"]![0]!["imagePullPolicy"]!.GetValue<string>());
        Assert.Matches(@"default\s+web\s+0/1\s+Pending", all);
        Assert.NotNull(terminating["metadata"]!["deletionTimestamp"]);
        Assert.Null(Server.Store.Get("pods", "default", "web"));
    }

    [Fact]
    public async Task Node_kubeconfig_lists_leases_and_is_forbidden_from_other_nodes()
    {
        var nodeConf = Path.Combine(_dir.FullName, "node.conf");
        Server.WriteNodeKubeconfig(nodeConf, "worker-1");
        Server.Store.Create("leases", TestObjects.Lease("worker-1", "worker-1"));

        var leases = await RunKubectlAsync(nodeConf, "", ["get", "lease", "worker-1", "-n", "kube-node-lease"]);
        var mode = OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(nodeConf);

        Assert.Matches(@"worker-1\s+worker-1", leases);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        var error = await Assert.ThrowsAsync<Xunit.Sdk.TrueException>(() =>
            RunKubectlAsync(nodeConf, "", ["label", "node", "worker-2", "x=y"]));
        Assert.Contains("nodes \"worker-2\" not found", error.Message);
    }

    [Fact]
    public async Task Get_csr_and_approve_and_deny_it()
    {
        using var node = ApiClient.Node(Server, "n1");
        var serving = (await node.PostAsync("/apis/certificates.k8s.io/v1/certificatesigningrequests", NodeCsrs.Csr("n1",
            signer: "kubernetes.io/kubelet-serving", usages: ["digital signature", "server auth"], dnsName: "n1"))).Expect(System.Net.HttpStatusCode.Created);
        var other = (await node.PostAsync("/apis/certificates.k8s.io/v1/certificatesigningrequests", NodeCsrs.Csr("n1",
            signer: "kubernetes.io/kubelet-serving", usages: ["digital signature", "server auth"], dnsName: "n1"))).Expect(System.Net.HttpStatusCode.Created);
        var name = serving["metadata.name"]!;
        var otherName = other["metadata.name"]!;

        var pending = await KubectlAsync("get", "csr");
        await KubectlAsync("certificate", "approve", name);
        await KubectlAsync("certificate", "deny", otherName);
        var after = await KubectlAsync("get", "csr");

        Assert.Matches(@"NAME\s+AGE\s+SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION", pending);
        Assert.Matches($@"{name}\s+\S+\s+kubernetes.io/kubelet-serving\s+system:node:n1\s+<none>\s+Pending", pending);
        Assert.Matches($@"{name}\s+.*Approved,Issued", after);
        Assert.Matches($@"{otherName}\s+.*Denied\s*$", after.Split('\n').First(l => l.StartsWith(otherName, StringComparison.Ordinal)));
        var approved = Server.Store.Get("certificatesigningrequests", null, name)!;
        Assert.Equal("KubectlApprove", approved["status"]!["conditions"]![0]!["reason"]!.GetValue<string>());
    }
}
