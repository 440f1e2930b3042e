using KubeletPS.Core.Agent;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Support;

/// <summary>The pod half of the agent over the fake runtime: static pods from a folder, busybox:1.36 present.</summary>
internal static class FakeRuntimeAgent
{
    /// <summary>A fake runtime and image service sharing one call log, with the test pods' image present.</summary>
    public static (FakeRuntimeService Runtime, FakeImageService Images) Runtime()
    {
        var runtime = new FakeRuntimeService();
        var images = new FakeImageService(runtime.Calls);
        images.AddImage("busybox:1.36");
        return (runtime, images);
    }

    /// <summary>A static pod manifest: one busybox:1.36 container sleeping an hour; <paramref name="spec"/> are more lines under spec.</summary>
    public static string Manifest(string name, params string[] spec) =>
        $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n" + string.Concat(spec.Select(l => $"  {l}\n")) +
        "  containers:\n  - name: main\n    image: busybox:1.36\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n";

    /// <summary>The agent's options for node1 (10.0.0.1): manifests from <paramref name="manifests"/>, its directories under <paramref name="root"/>.</summary>
    public static PodSyncAgentOptions Options(string root, string manifests, (FakeRuntimeService Runtime, FakeImageService Images) services, IKubeletLog log) => new()
    {
        NodeName = "node1",
        NodeIp = "10.0.0.1",
        StaticPodPath = manifests,
        RuntimeServices = services,
        RootDirectory = Path.Combine(root, "kubelet"),
        PodLogsDirectory = Path.Combine(root, "logs"),
        ResolvConf = null,
        Log = log,
    };
}
