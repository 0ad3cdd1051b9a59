package io.spillway.testing;

/** A child-JVM main for {@link ChildJvmIT}: prints a ready line, then exits with args[0] or waits forever. */
public final class HelloMain {

    private HelloMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println("hello from pid " + ProcessHandle.current().pid()
                + " analytics=" + System.getProperty("chronicle.analytics.disable"));
        System.out.flush();
        if (args.length > 0) {
            System.exit(Integer.parseInt(args[0]));
        }
        // Stay alive until killed: the test decides how this process ends.
        new java.util.concurrent.CountDownLatch(1).await();
    }
}
