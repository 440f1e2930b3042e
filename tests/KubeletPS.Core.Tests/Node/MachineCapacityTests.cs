using KubeletPS.Core.Node;

namespace KubeletPS.Core.Tests.Node;

public sealed class MachineCapacityTests
{
    [Fact]
    public void Capacity_is_the_cpus_memory_and_root_filesystem_in_plain_units()
    {
        var machine = new MachineInfo
        {
            CpuCount = 4, MemoryCapacityBytes = 16L << 30, MemoryAvailableBytes = 8L << 30, HugePages = new Dictionary<long, long>(),
            FilesystemCapacityBytes = 100L << 30, FilesystemAvailableBytes = 50L << 30, FilesystemInodes = 1, FilesystemInodesFree = 1,
            PidMax = 1, RunningProcesses = 1, MachineId = "", BootId = "", SystemUuid = "", KernelVersion = "", OsImage = "",
            Architecture = "amd64", Hostname = "node-a",
        };
        var capacity = machine.Capacity();
        Assert.Equal(["cpu", "ephemeral-storage", "memory"], capacity.Keys.Order());
        Assert.Equal(4m, capacity["cpu"].ToDecimal());
        Assert.Equal(16L << 30, (long)capacity["memory"].ToDecimal());
        Assert.Equal(100L << 30, (long)capacity["ephemeral-storage"].ToDecimal());
    }

    [Fact]
    public void The_host_memory_is_MemTotal_and_read_once()
    {
        var memTotalKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        Assert.Equal(long.Parse(memTotalKb) * 1024, MachineInfoReader.HostMemoryCapacityBytes);
        Assert.Equal(MachineInfoReader.HostMemoryCapacityBytes, MachineInfoReader.HostMemoryCapacityBytes);
    }
}
