using KubeletPS.Benchmarks;

return args switch
{
    ["direct-cri", .. var rest] => await DirectCriBaseline.RunAsync(rest),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: KubeletPS.Benchmarks direct-cri [--pods N] [--parallel N] [--endpoint unix:///path] [--dir DIR]");
    return 2;
}
