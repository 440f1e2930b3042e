# Shared by the node test files (dot-sourced in each Describe's BeforeAll): how a check's
# result becomes the It's result. A failure's message is the check's own: what is wrong and
# what to do. Skipped means the check cannot apply here; Inconclusive is a warning.

function Assert-KubeletCheckResult {
    param([Parameter(Mandatory)][string] $Result, [Parameter(Mandatory)][AllowEmptyString()][string] $Message)
    switch ($Result) {
        'Passed' { return }
        'Skipped' { Set-ItResult -Skipped -Because $Message }
        'Inconclusive' { Set-ItResult -Inconclusive -Because $Message }
        default { throw $Message }
    }
}

function Assert-KubeletNodeCheck {
    # One of the checks KubeletNodeProbe returned (Preflight, Runtime), by name.
    param([Parameter(Mandatory)][AllowEmptyCollection()][object[]] $Checks, [Parameter(Mandatory)][string] $Name)
    $check = $Checks | Where-Object Name -EQ $Name | Select-Object -First 1
    if (-not $check) { throw "The check $Name reported nothing: this KubeletPS's engine and its node tests do not match; reinstall the module." }
    Assert-KubeletCheckResult -Result $check.Result -Message $check.Message
}

function Get-KubeletNodeTestArgument {
    # The parameters of the cmdlets the groups call, from what Test-KubeletNode was given.
    param([Parameter(Mandatory)] $Node, [switch] $Config, [switch] $NodeName, [string] $NodeNameParameter = 'NodeName')
    $arguments = @{ KubeconfigPath = $Node.KubeconfigPath; ErrorAction = 'Stop' }
    if ($Config -and $Node.ConfigPath) { $arguments.ConfigPath = $Node.ConfigPath }
    if ($NodeName -and $Node.NodeName) { $arguments[$NodeNameParameter] = $Node.NodeName }
    $arguments
}
