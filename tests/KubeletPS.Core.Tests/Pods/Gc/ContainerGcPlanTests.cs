using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods.Gc;

/// <summary>Kubelet's TestContainerGC / TestSandboxGC cases (kuberuntime_gc_test.go) as tables over the listed containers and sandboxes.</summary>
public sealed class ContainerGcPlanTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-01-01T01:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Pods still wanted are listed; every other uid is gone (once the sources are ready).</summary>
    public sealed class PodStates(bool sourcesReady, params string[] live) : IPodStateProvider
    {
        public HashSet<string> Finished { get; } = [];
        public bool AllSourcesReady => sourcesReady;
        public bool ShouldPodContentBeRemoved(string podUid) => sourcesReady && !live.Contains(podUid);
        public bool ShouldPodRuntimeBeRemoved(string podUid) => ShouldPodContentBeRemoved(podUid) || Finished.Contains(podUid);
    }

    // A container "pod/name#n" created n minutes before Now (so a higher n is older).
    private static ContainerInfo C(string pod, string name, int minutesAgo, ContainerState state = ContainerState.Exited, string? sandbox = null) =>
        new($"{pod}-{name}-{minutesAgo}", sandbox ?? $"sb-{pod}", name, 0, "busybox", "busybox", state, Now.AddMinutes(-minutesAgo),
            new Dictionary<string, string> { [KubeletLabels.PodUid] = pod, [KubeletLabels.ContainerName] = name }, new Dictionary<string, string>());

    private static PodSandboxInfo S(string id, string pod, int minutesAgo, PodSandboxState state = PodSandboxState.NotReady) =>
        new(id, pod, "default", pod, 0, state, Now.AddMinutes(-minutesAgo), new Dictionary<string, string>(), new Dictionary<string, string>(), "");

    private static List<string> Removed(IReadOnlyList<ContainerInfo> containers, ContainerGcPolicy policy, IPodStateProvider? pods = null, bool evictNonDeletedPods = false) =>
        ContainerGcPlan.Containers(containers, policy, pods ?? new PodStates(true, "p1", "p2", "p3"), evictNonDeletedPods, Now).Select(c => c.Id).ToList();

    public static TheoryData<string, ContainerInfo[], ContainerGcPolicy, string[]> ContainerCases() => new()
    {
        {
            "kubelet's defaults keep one dead container per pod container, the newest; the running one is never counted",
            [C("p1", "main", 0, ContainerState.Running), C("p1", "main", 1), C("p1", "main", 2), C("p1", "main", 3)],
            new ContainerGcPolicy(), ["p1-main-3", "p1-main-2"]
        },
        {
            "all dead containers go when the node's limit is 0",
            [C("p1", "main", 1)], new ContainerGcPolicy { MaxContainers = 0 }, ["p1-main-1"]
        },
        {
            "the node's limit alone (no per pod container limit) keeps the newest",
            [C("p1", "main", 1), C("p1", "main", 2), C("p1", "main", 3), C("p1", "main", 4), C("p1", "main", 5)],
            new ContainerGcPolicy { MaxPerPodContainer = -1, MaxContainers = 4 }, ["p1-main-5"]
        },
        {
            "no limits: nothing goes",
            [C("p1", "main", 1), C("p1", "main", 2), C("p1", "main", 3)],
            new ContainerGcPolicy { MaxPerPodContainer = -1, MaxContainers = -1 }, []
        },
        {
            "dead containers younger than the minimum age are not candidates",
            [C("p1", "main", 1), C("p1", "main", 2), C("p1", "main", 30), C("p1", "main", 40)],
            new ContainerGcPolicy { MinAge = TimeSpan.FromMinutes(10) }, ["p1-main-40"]
        },
        {
            "the node's budget is shared per evict unit, at least one each",
            [C("p1", "a", 1), C("p1", "a", 2), C("p1", "a", 3), C("p2", "b", 1), C("p2", "b", 2), C("p3", "c", 1), C("p3", "c", 2)],
            new ContainerGcPolicy { MaxPerPodContainer = -1, MaxContainers = 4 }, ["p1-a-3", "p1-a-2", "p2-b-2", "p3-c-2"]
        },
        {
            "at one per unit still over the node's limit, the oldest on the node go",
            [C("p1", "a", 5), C("p2", "b", 1), C("p3", "c", 3)],
            new ContainerGcPolicy { MaxPerPodContainer = -1, MaxContainers = 1 }, ["p1-a-5", "p3-c-3"]
        },
        {
            "each container name of a pod is its own evict unit",
            [C("p1", "a", 1), C("p1", "a", 2), C("p1", "b", 3), C("p1", "b", 4)],
            new ContainerGcPolicy(), ["p1-a-2", "p1-b-4"]
        },
        {
            "every dead container of a removed pod goes, even within the limits",
            [C("gone", "main", 1), C("p1", "main", 1)],
            new ContainerGcPolicy(), ["gone-main-1"]
        },
    };

    [Theory]
    [MemberData(nameof(ContainerCases))]
    public void Dead_containers_to_remove(string name, ContainerInfo[] containers, ContainerGcPolicy policy, string[] expected)
    {
        Assert.NotEmpty(name);
        Assert.Equal(expected, Removed(containers, policy));
    }

    [Fact]
    public void Before_every_pod_source_has_reported_an_unknown_pod_keeps_its_dead_containers_within_the_per_pod_limit()
    {
        var containers = new[] { C("unseen", "main", 1), C("unseen", "main", 2) };
        Assert.Equal(["unseen-main-2"], Removed(containers, new ContainerGcPolicy(), new PodStates(false)));
        Assert.Equal(["unseen-main-2", "unseen-main-1"], Removed(containers, new ContainerGcPolicy(), new PodStates(true)));
    }

    [Fact]
    public void For_the_eviction_manager_a_finished_pods_containers_go_too_but_a_running_pods_dead_ones_stay_within_the_limit()
    {
        var pods = new PodStates(true, "done", "live");
        pods.Finished.Add("done");
        var containers = new[] { C("done", "main", 1), C("live", "main", 0, ContainerState.Running), C("live", "main", 1) };
        Assert.Empty(Removed(containers, new ContainerGcPolicy(), pods));
        Assert.Equal(["done-main-1"], Removed(containers, new ContainerGcPolicy(), pods, evictNonDeletedPods: true));
    }

    [Fact]
    public void Containers_without_kubelets_pod_label_are_not_the_kubelets_and_stay()
    {
        var foreign = new ContainerInfo("foreign", "sb", "x", 0, "busybox", "busybox", ContainerState.Exited, Now.AddDays(-1), new Dictionary<string, string>(), new Dictionary<string, string>());
        Assert.Empty(Removed([foreign], new ContainerGcPolicy { MaxContainers = 0 }));
    }

    public static TheoryData<string, PodSandboxInfo[], ContainerInfo[], bool, string[]> SandboxCases() => new()
    {
        {
            "a live pod keeps its newest sandbox even when not ready; older ones without containers go",
            [S("new", "p1", 1), S("old", "p1", 5), S("older", "p1", 9)], [], true, ["old", "older"]
        },
        {
            "a ready sandbox and one that still has a container are active and stay",
            [S("new", "p1", 1), S("ready", "p1", 5, PodSandboxState.Ready), S("busy", "p1", 9)], [C("p1", "main", 9, sandbox: "busy")], true, []
        },
        {
            "a removed pod loses every inactive sandbox, the newest too",
            [S("a", "gone", 1), S("b", "gone", 5)], [], true, ["a", "b"]
        },
        {
            "before the sources are ready a pod not yet seen keeps its newest sandbox",
            [S("a", "unseen", 1), S("b", "unseen", 5)], [], false, ["b"]
        },
    };

    [Theory]
    [MemberData(nameof(SandboxCases))]
    public void Sandboxes_to_remove(string name, PodSandboxInfo[] sandboxes, ContainerInfo[] containers, bool sourcesReady, string[] expected)
    {
        Assert.NotEmpty(name);
        var plan = ContainerGcPlan.Sandboxes(sandboxes, containers, [], new PodStates(sourcesReady, "p1"), evictNonDeletedPods: false);
        Assert.Equal(expected, plan.Select(s => s.Id).ToArray());
    }

    [Fact]
    public void A_sandbox_whose_last_containers_this_pass_removes_is_no_longer_active()
    {
        var containers = new[] { C("p1", "main", 9, sandbox: "old") };
        var plan = ContainerGcPlan.Sandboxes([S("new", "p1", 1), S("old", "p1", 9)], containers, ["p1-main-9"], new PodStates(true, "p1"), false);
        Assert.Equal("old", Assert.Single(plan).Id);
    }

    [Theory]
    [InlineData("default_web-0_0f1e2d3c-aaaa-bbbb-cccc-111122223333", "0f1e2d3c-aaaa-bbbb-cccc-111122223333")]
    [InlineData("kube_system_name_with_underscores_uid-1", "uid-1")]
    [InlineData("nounderscore", "")]
    public void The_pod_uid_of_a_log_directory_is_what_follows_the_last_underscore(string name, string uid) =>
        Assert.Equal(uid, ContainerGcPlan.PodUidFromLogsDirectory(name));
}
