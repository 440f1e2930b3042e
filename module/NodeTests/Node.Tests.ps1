# The node as the API server sees it (Get-KubeletNode, with the node's own credentials):
# registered, Ready, its lease renewed within its duration, no pressure condition.
param([Parameter(Mandatory)] $Node)

Describe 'Node' -Tag 'Node' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'NodeCheck.ps1')
        $hasKubeconfig = Test-Path -LiteralPath $Node.KubeconfigPath -PathType Leaf
        $info = $null; $problem = $null
        if ($hasKubeconfig) {
            $arguments = Get-KubeletNodeTestArgument -Node $Node -Config -NodeName -NodeNameParameter Name
            try { $info = Get-KubeletNode @arguments | Select-Object -First 1 }
            catch { $problem = $_ }
        }
        $unread = if (-not $hasKubeconfig) { "there is no kubeconfig at $($Node.KubeconfigPath) yet" } elseif (-not $info) { 'the Node could not be read (see Registered)' }

        function Assert-NoPressure([string] $Type, [string] $Fix) {
            if ($unread) { Set-ItResult -Skipped -Because $unread; return }
            $condition = $info.Conditions | Where-Object Type -EQ $Type
            if (-not $condition) { throw "node $($info.Name) reports no $Type condition: is the agent that runs it a kubelet?" }
            if ($condition.Status -eq 'True') { throw "node $($info.Name) has $Type ($($condition.Reason): $($condition.Message)): $Fix." }
        }
    }

    It 'Registered' {
        if (-not $hasKubeconfig) { Set-ItResult -Skipped -Because "there is no kubeconfig at $($Node.KubeconfigPath) yet: the node has not joined a cluster"; return }
        if ($problem -and $problem.FullyQualifiedErrorId -like 'GetKubeletNodeNotFound*') {
            throw "$($problem.Exception.Message) Start the agent (Start-KubeletAgent, or systemctl start kubeletps) so that it registers the node."
        }
        if ($problem) { throw "the Node could not be read with the node's credentials: $($problem.Exception.Message) See the ApiServer and Certificates groups." }
    }

    It 'Ready' {
        if ($unread) { Set-ItResult -Skipped -Because $unread; return }
        $ready = $info.Conditions | Where-Object Type -EQ 'Ready'
        if ($ready.Status -ne 'True') {
            throw "node $($info.Name) is not Ready ($($ready.Reason): $($ready.Message)): check the agent's log (journalctl -u kubeletps) and the Runtime group."
        }
    }

    It 'LeaseRenewed' {
        if ($unread) { Set-ItResult -Skipped -Because $unread; return }
        if (-not $info.LeaseRenewTime) { throw "node $($info.Name) has no lease in kube-node-lease: the agent is not running or cannot reach the API server." }
        $renewed = [DateTime]::SpecifyKind($info.LeaseRenewTime, 'Utc')
        $age = [DateTime]::UtcNow - $renewed
        $duration = if ($info.LeaseDurationSeconds) { $info.LeaseDurationSeconds } else { 40 }
        if ($age.TotalSeconds -gt $duration) {
            throw ("the lease kube-node-lease/$($info.Name) was last renewed at {0:u}, {1:N0} s ago, beyond its {2} s duration: the agent is not running or cannot reach the API server (see its log)." -f $renewed, $age.TotalSeconds, $duration)
        }
    }

    It 'NoMemoryPressure' { Assert-NoPressure MemoryPressure 'free memory on the node or move pods away; kubelet evicts pods under memory pressure' }
    It 'NoDiskPressure' { Assert-NoPressure DiskPressure 'free disk space under the kubelet''s root and the runtime''s image store (crictl rmi --prune)' }
    It 'NoPIDPressure' { Assert-NoPressure PIDPressure 'too many processes on the node: find the pod that forks them' }
}
