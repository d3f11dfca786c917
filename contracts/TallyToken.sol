// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title TallyToken: Tallyhold's own ERC-20, used only by tests and the local chain of `make run`.
/// @notice Name, symbol, decimals and the minter are immutables, so they live in the runtime bytecode:
///         copying the code to another address (anvil_setCode) gives a working token there, which is how the
///         tests put a token at the address a curated token has on mainnet. Balances live in storage as usual.
contract TallyToken {
    bytes32 private immutable _name;
    bytes32 private immutable _symbol;
    uint256 private immutable _nameLength;
    uint256 private immutable _symbolLength;
    uint8 public immutable decimals;
    address public immutable minter;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) {
        bytes memory n = bytes(name_);
        bytes memory s = bytes(symbol_);
        require(n.length <= 32 && s.length <= 32, "name/symbol > 32 bytes");
        _name = bytes32(n);
        _symbol = bytes32(s);
        _nameLength = n.length;
        _symbolLength = s.length;
        decimals = decimals_;
        minter = msg.sender;
    }

    function name() external view returns (string memory) {
        return _unpack(_name, _nameLength);
    }

    function symbol() external view returns (string memory) {
        return _unpack(_symbol, _symbolLength);
    }

    /// @notice Only the deployer may mint: enough for tests to fund accounts with exact amounts.
    function mint(address to, uint256 value) external {
        require(msg.sender == minter, "not minter");
        require(to != address(0), "zero to");
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) internal {
        require(to != address(0), "zero to");
        require(balanceOf[from] >= value, "balance");
        unchecked {
            balanceOf[from] -= value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }

    function _unpack(bytes32 packed, uint256 length) private pure returns (string memory out) {
        out = new string(length);
        assembly {
            mstore(add(out, 32), packed)
        }
    }
}
