using KubeletPS.Benchmarks;

return args switch
{
    ["direct-cri", .. var rest] => await DirectCriBaseline.RunAsync(rest),
    ["heartbeat", .. var rest] => await NodeHeartbeatBenchmark.RunAsync(rest),
    ["agent", .. var rest] => await AgentPodStartup.RunAsync(rest),
    ["api-pods", .. var rest] => await ApiPodStartupBenchmark.RunAsync(rest),
    ["pod-removal", .. var rest] => await PodRemovalBenchmark.RunAsync(rest),
    ["kubelet-server", .. var rest] => await KubeletServerBenchmark.RunAsync(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: KubeletPS.Benchmarks direct-cri [--pods N] [--parallel N] [--endpoint unix:///path] [--dir DIR]");
    Console.Error.WriteLine("       KubeletPS.Benchmarks heartbeat [--seconds N] [--module out/KubeletPS/KubeletPS.psd1]");
    Console.Error.WriteLine("       KubeletPS.Benchmarks agent [--pods N] [--dir DIR] [--warmup N] [--volumes true] [--cgroups true] [--trace true]");
    Console.Error.WriteLine("       KubeletPS.Benchmarks api-pods [--pods N] [--steady-seconds N]");
    Console.Error.WriteLine("       KubeletPS.Benchmarks pod-removal [--pods N]");
    Console.Error.WriteLine("       KubeletPS.Benchmarks kubelet-server --test-cluster PATH/KubeletPS.TestCluster.dll [--log-mib N] [--concurrency N] [--rounds N] [--idle-seconds N] [--idle-rounds N]");
    return 2;
}
