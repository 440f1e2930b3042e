using System.Text.Json.Nodes;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Stats;

public sealed class SummaryJsonTests
{
    [Fact]
    public void ToJson_UsesTheSummaryApiFieldNames()
    {
        var t = new DateTimeOffset(2026, 12, 1, 12, 0, 0, 123, TimeSpan.Zero);
        var summary = new Summary
        {
            Node = new NodeStats
            {
                NodeName = "node1",
                StartTime = t,
                Network = new NetworkStats { Time = t, Name = "eth0", RxBytes = 5, Interfaces = [new InterfaceStats { Name = "eth0", RxBytes = 5 }] },
                Rlimit = new RlimitStats { Time = t, MaxPid = 4194304, NumOfRunningProcesses = 120 },
                Runtime = new RuntimeStats { ImageFs = new FsStats { Time = t, UsedBytes = 1 } },
            },
            Pods =
            [
                new PodStats
                {
                    PodRef = new PodReference { Name = "web", Namespace = "default", Uid = "u" },
                    StartTime = t,
                    VolumeStats = [new VolumeStats { Name = "cache", Time = t, UsedBytes = 4096 }],
                    EphemeralStorage = new FsStats { Time = t, UsedBytes = 8192 },
                    Containers = [new ContainerStats { Name = "c", StartTime = t, Cpu = new CpuStats { Time = t, UsageCoreNanoSeconds = 7 } }],
                },
            ],
        };

        var json = JsonNode.Parse(summary.ToJson())!;

        Assert.Equal("2026-12-01T12:00:00Z", (string?)json["node"]!["startTime"]);
        Assert.Equal("eth0", (string?)json["node"]!["network"]!["name"]);
        Assert.Equal(5, (long?)json["node"]!["network"]!["rxBytes"]);
        Assert.Equal(4194304, (long?)json["node"]!["rlimit"]!["maxpid"]);
        Assert.Equal(120, (long?)json["node"]!["rlimit"]!["curproc"]);
        Assert.Equal(1, (long?)json["node"]!["runtime"]!["imageFs"]!["usedBytes"]);
        var pod = json["pods"]![0]!;
        Assert.Equal("u", (string?)pod["podRef"]!["uid"]);
        Assert.Equal("cache", (string?)pod["volume"]![0]!["name"]);
        Assert.Equal(4096, (long?)pod["volume"]![0]!["usedBytes"]);
        Assert.Equal(8192, (long?)pod["ephemeral-storage"]!["usedBytes"]);
        Assert.Equal(7, (long?)pod["containers"]![0]!["cpu"]!["usageCoreNanoSeconds"]);
        // Absent figures are left out, not written as null.
        Assert.Null(pod["containers"]![0]!["cpu"]!.AsObject()["usageNanoCores"]);
        Assert.False(pod["containers"]![0]!.AsObject().ContainsKey("memory"));

        var back = Summary.FromJson(summary.ToJson());
        Assert.Equal("node1", back.Node.NodeName);
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero), back.Pods[0].StartTime);
    }

    [Fact]
    public void NetDev_ParsesProcNetDevWithoutLoopback()
    {
        const string text = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:    1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0
              eth0: 98765432  65000    3    0    0     0          0         0 12345678   43000    1    0    0     0       0          0
            """;
        var interfaces = NetDevReader.Parse(text);
        var eth0 = Assert.Single(interfaces);
        Assert.Equal("eth0", eth0.Name);
        Assert.Equal(98765432UL, eth0.RxBytes);
        Assert.Equal(3UL, eth0.RxErrors);
        Assert.Equal(12345678UL, eth0.TxBytes);
        Assert.Equal(1UL, eth0.TxErrors);
    }
}
